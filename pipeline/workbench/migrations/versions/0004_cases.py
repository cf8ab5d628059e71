"""Bad-review cases (差评处理, issue 19): the cases with their deadlines and the machine's suggested
reason, the customer contact log, the measures (owner, due date), in-app notices and the webhook
outbox / delivery log. New tables only: nothing existing changes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("external_ref", sa.String(length=200), nullable=True),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("conversation_ext_id", sa.String(length=128), nullable=True),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("team", sa.String(length=128), nullable=True),
        sa.Column("customer_id", sa.String(length=128), nullable=True),
        sa.Column("rating_score", sa.Float(), nullable=True),
        sa.Column("review_text", sa.Text(), nullable=True),
        _ts("received_at", False),
        _ts("opened_at", False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("suggested_reason", sa.String(length=16), nullable=True),
        sa.Column("suggestion", sa.JSON(), nullable=True),
        sa.Column("confirmed_reason", sa.String(length=16), nullable=True),
        sa.Column("responsibility", sa.JSON(), nullable=True),
        sa.Column("account_text", sa.Text(), nullable=True),
        _ts("account_at"),
        sa.Column("investigation", sa.Text(), nullable=True),
        sa.Column("responsibility_note", sa.Text(), nullable=True),
        _ts("apology_at"),
        sa.Column("follow_up_result", sa.String(length=16), nullable=True),
        sa.Column("follow_up_note", sa.Text(), nullable=True),
        _ts("follow_up_at"),
        _ts("closed_at"),
        _ts("account_due", False),
        _ts("apology_due", False),
        _ts("close_due", False),
        _ts("updated_at", False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    for column in ("conversation_id", "conversation_ext_id", "agent_id", "state", "close_due"):
        op.create_index(f"ix_cases_{column}", "cases", [column], unique=False)
    op.create_table(
        "case_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        _ts("at", False),
        sa.Column("by", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_contacts_case_id", "case_contacts", ["case_id"], unique=False)
    op.create_table(
        "case_measures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        _ts("due_at", False),
        sa.Column("note", sa.Text(), nullable=True),
        _ts("done_at"),
        sa.Column("done_note", sa.Text(), nullable=True),
        _ts("created_at", False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_measures_case_id", "case_measures", ["case_id"], unique=False)
    op.create_index("ix_case_measures_owner_id", "case_measures", ["owner_id"], unique=False)
    op.create_table(
        "case_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        _ts("created_at", False),
        _ts("read_at"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "user_id", "event"),
    )
    op.create_index("ix_case_notices_case_id", "case_notices", ["case_id"], unique=False)
    op.create_index("ix_case_notices_user_id", "case_notices", ["user_id"], unique=False)
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.JSON(), nullable=False),
        _ts("created_at", False),
        _ts("delivered_at"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webhook_deliveries_case_id", "webhook_deliveries", ["case_id"], unique=False)
    op.create_index("ix_webhook_deliveries_state", "webhook_deliveries", ["state"], unique=False)


def downgrade() -> None:
    for table, columns in (("webhook_deliveries", ("state", "case_id")),
                           ("case_notices", ("user_id", "case_id")),
                           ("case_measures", ("owner_id", "case_id")),
                           ("case_contacts", ("case_id",)),
                           ("cases", ("close_due", "state", "agent_id", "conversation_ext_id", "conversation_id"))):
        for column in columns:
            op.drop_index(f"ix_{table}_{column}", table_name=table)
        op.drop_table(table)
