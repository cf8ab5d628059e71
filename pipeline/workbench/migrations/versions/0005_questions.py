"""Scorecard questions in the workbench (issue 17): the run's answers per conversation (the column
``conversations.questions`` and one ``machine_answers`` row per conversation and question, which the
active-learning queue sorts by confidence), people's one-click answers (``question_answers``) and the
questions a QA lead added (``questions``). New tables and one nullable column: nothing existing changes;
``zhijian load RUN_DIR`` again fills the machine answers of conversations loaded before.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("conversations", sa.Column("questions", sa.JSON(), nullable=True))
    op.create_table(
        "questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("item", sa.String(length=128), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_table(
        "machine_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(length=64), nullable=False),
        sa.Column("answer", sa.String(length=32), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("conversation_id", "question"),
    )
    op.create_index("ix_machine_answers_conversation_id", "machine_answers", ["conversation_id"], unique=False)
    op.create_index("ix_machine_answers_question_confidence", "machine_answers", ["question", "confidence"], unique=False)
    op.create_table(
        "question_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("answer", sa.String(length=32), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("conversation_id", "question", "user_id"),
    )
    for column in ("conversation_id", "question", "user_id"):
        op.create_index(f"ix_question_answers_{column}", "question_answers", [column], unique=False)


def downgrade() -> None:
    op.drop_table("question_answers")
    op.drop_table("machine_answers")
    op.drop_table("questions")
    # a plain DROP COLUMN (SQLite ≥ 3.35, PostgreSQL): a batch rebuild of conversations would drop the table, and
    # with foreign keys on, SQLite's implicit delete would cascade to the findings, reviews and cases
    op.execute("ALTER TABLE conversations DROP COLUMN questions")
