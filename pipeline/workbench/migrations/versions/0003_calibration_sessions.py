"""Calibration sessions (校准, issue 14): the sessions, their conversations and participants, each
participant's blind answers (verdicts on the machine's findings, score, labels) and the consensus
answers a supervisor accepted as gold labels. Separate tables: nothing here touches reviews,
verdicts, disputes or a conversation's scores.

Revision ID: 0003
Revises: 0002
Create Date: 2027-01-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calibration_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.Column("gold_accepted_by", sa.Integer(), nullable=True),
        sa.Column("gold_accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["closed_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["gold_accepted_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_calibration_sessions_state", "calibration_sessions", ["state"], unique=False)
    op.create_table(
        "calibration_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["calibration_sessions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "conversation_id"),
    )
    op.create_index("ix_calibration_items_session_id", "calibration_items", ["session_id"], unique=False)
    op.create_index("ix_calibration_items_conversation_id", "calibration_items", ["conversation_id"], unique=False)
    op.create_table(
        "calibration_participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["calibration_sessions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "user_id"),
    )
    op.create_index("ix_calibration_participants_session_id", "calibration_participants", ["session_id"], unique=False)
    op.create_index("ix_calibration_participants_user_id", "calibration_participants", ["user_id"], unique=False)
    op.create_table(
        "calibration_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("human_score", sa.Float(), nullable=True),
        sa.Column("issue_type", sa.String(length=64), nullable=True),
        sa.Column("sentiment", sa.String(length=16), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["calibration_items.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "user_id"),
    )
    op.create_index("ix_calibration_answers_item_id", "calibration_answers", ["item_id"], unique=False)
    op.create_index("ix_calibration_answers_user_id", "calibration_answers", ["user_id"], unique=False)
    op.create_table(
        "calibration_verdicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("answer_id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=12), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["answer_id"], ["calibration_answers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["finding_id"], ["findings.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("answer_id", "finding_id"),
    )
    op.create_index("ix_calibration_verdicts_answer_id", "calibration_verdicts", ["answer_id"], unique=False)
    op.create_index("ix_calibration_verdicts_finding_id", "calibration_verdicts", ["finding_id"], unique=False)
    op.create_table(
        "calibration_gold",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=80), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=True),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("votes", sa.JSON(), nullable=False),
        sa.Column("decided_by", sa.String(length=12), nullable=False),
        sa.Column("accepted_by", sa.Integer(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["calibration_sessions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["item_id"], ["calibration_items.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["finding_id"], ["findings.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["accepted_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "unit"),
    )
    op.create_index("ix_calibration_gold_session_id", "calibration_gold", ["session_id"], unique=False)
    op.create_index("ix_calibration_gold_item_id", "calibration_gold", ["item_id"], unique=False)


def downgrade() -> None:
    for table, columns in (("calibration_gold", ("item_id", "session_id")),
                           ("calibration_verdicts", ("finding_id", "answer_id")),
                           ("calibration_answers", ("user_id", "item_id")),
                           ("calibration_participants", ("user_id", "session_id")),
                           ("calibration_items", ("conversation_id", "session_id")),
                           ("calibration_sessions", ("state",))):
        for column in columns:
            op.drop_index(f"ix_{table}_{column}", table_name=table)
        op.drop_table(table)
