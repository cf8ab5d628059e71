"""Initial schema: every table of pipeline/workbench/db.py, and the audit log made append-only
in the database itself (a trigger refuses UPDATE and DELETE on audit_log, on PostgreSQL and SQLite),
so not even a hand-written SQL statement can rewrite history.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# PostgreSQL: one function, two statement-level triggers (TRUNCATE too: it bypasses row triggers)
PG_APPEND_ONLY = [
    """CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$""",
    """CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()""",
    """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()""",
]
PG_DROP = [
    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_no_update_delete ON audit_log",
    "DROP FUNCTION IF EXISTS audit_log_append_only()",
]
SQLITE_APPEND_ONLY = [
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END""",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS audit_log_no_update", "DROP TRIGGER IF EXISTS audit_log_no_delete"]


def _append_only(create: bool) -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        statements = PG_APPEND_ONLY if create else PG_DROP
    elif dialect == "sqlite":
        statements = SQLITE_APPEND_ONLY if create else SQLITE_DROP
    else:
        statements = []  # other databases: the ORM guard in db.py still refuses changes
    for sql in statements:
        op.execute(sql)


def upgrade() -> None:
    op.create_table('login_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_login_attempts_ip_at', 'login_attempts', ['client', 'at'], unique=False)
    op.create_index('ix_login_attempts_user_at', 'login_attempts', ['username', 'at'], unique=False)
    op.create_table('runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_key', sa.String(length=64), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('started_at', sa.String(length=40), nullable=True),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('versions', sa.JSON(), nullable=False),
    sa.Column('masked', sa.Boolean(), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_key')
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('agent_id', sa.String(length=64), nullable=True),
    sa.Column('team', sa.String(length=128), nullable=True),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_index('ix_users_agent_id', 'users', ['agent_id'], unique=False)
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_sha256')
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('entity', sa.String(length=32), nullable=False),
    sa.Column('entity_id', sa.String(length=64), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_audit_entity', 'audit_log', ['entity', 'entity_id'], unique=False)
    op.create_index('ix_audit_log_at', 'audit_log', ['at'], unique=False)
    op.create_table('conversations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ext_id', sa.String(length=128), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('started_at', sa.String(length=40), nullable=True),
    sa.Column('day', sa.String(length=10), nullable=True),
    sa.Column('agent_id', sa.String(length=64), nullable=True),
    sa.Column('agent_name', sa.String(length=128), nullable=True),
    sa.Column('team', sa.String(length=128), nullable=True),
    sa.Column('customer_id', sa.String(length=128), nullable=True),
    sa.Column('rating_score', sa.Float(), nullable=True),
    sa.Column('rating_comment', sa.Text(), nullable=True),
    sa.Column('machine_score', sa.Float(), nullable=False),
    sa.Column('machine_grade', sa.String(length=8), nullable=False),
    sa.Column('review_needed', sa.Boolean(), nullable=False),
    sa.Column('review_reasons', sa.JSON(), nullable=False),
    sa.Column('risk', sa.Float(), nullable=False),
    sa.Column('min_model_confidence', sa.Float(), nullable=True),
    sa.Column('issue_type', sa.JSON(), nullable=True),
    sa.Column('sentiment', sa.JSON(), nullable=True),
    sa.Column('turn_sentiment', sa.JSON(), nullable=True),
    sa.Column('metrics', sa.JSON(), nullable=True),
    sa.Column('score_detail', sa.JSON(), nullable=True),
    sa.Column('versions', sa.JSON(), nullable=True),
    sa.Column('labels', sa.JSON(), nullable=True),
    sa.Column('turns', sa.JSON(), nullable=False),
    sa.Column('pii', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('human_score', sa.Float(), nullable=True),
    sa.Column('human_grade', sa.String(length=8), nullable=True),
    sa.Column('corrected_issue_type', sa.String(length=64), nullable=True),
    sa.Column('corrected_sentiment', sa.String(length=16), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ext_id')
    )
    op.create_index('ix_conversations_agent_id', 'conversations', ['agent_id'], unique=False)
    op.create_index('ix_conversations_assignee_id', 'conversations', ['assignee_id'], unique=False)
    op.create_index('ix_conversations_day', 'conversations', ['day'], unique=False)
    op.create_index('ix_conversations_review_needed', 'conversations', ['review_needed'], unique=False)
    op.create_index('ix_conversations_risk', 'conversations', ['risk'], unique=False)
    op.create_index('ix_conversations_status', 'conversations', ['status'], unique=False)
    op.create_index('ix_conversations_team', 'conversations', ['team'], unique=False)
    op.create_table('disputes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('raised_by', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('second_reviewer_id', sa.Integer(), nullable=True),
    sa.Column('signed_off_by', sa.Integer(), nullable=True),
    sa.Column('signed_off_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('final_score', sa.Float(), nullable=True),
    sa.Column('decision', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['raised_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['second_reviewer_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['signed_off_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_disputes_conversation_id', 'disputes', ['conversation_id'], unique=False)
    op.create_index('ix_disputes_state', 'disputes', ['state'], unique=False)
    op.create_table('findings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=True),
    sa.Column('severity', sa.String(length=16), nullable=True),
    sa.Column('points', sa.Float(), nullable=False),
    sa.Column('turn', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=True),
    sa.Column('start', sa.Integer(), nullable=True),
    sa.Column('end', sa.Integer(), nullable=True),
    sa.Column('evidence', sa.Text(), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('entry', sa.String(length=64), nullable=True),
    sa.Column('item', sa.String(length=128), nullable=True),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('conversation_id', 'position')
    )
    op.create_index('ix_findings_conversation_id', 'findings', ['conversation_id'], unique=False)
    op.create_index('ix_findings_rule', 'findings', ['rule'], unique=False)
    op.create_table('reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('human_score', sa.Float(), nullable=True),
    sa.Column('issue_type', sa.String(length=64), nullable=True),
    sa.Column('sentiment', sa.String(length=16), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('conversation_id', 'round', 'reviewer_id')
    )
    op.create_index('ix_reviews_conversation_id', 'reviews', ['conversation_id'], unique=False)
    op.create_table('verdicts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('finding_id', sa.Integer(), nullable=False),
    sa.Column('verdict', sa.String(length=12), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['finding_id'], ['findings.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['review_id'], ['reviews.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('review_id', 'finding_id')
    )
    op.create_index('ix_verdicts_finding_id', 'verdicts', ['finding_id'], unique=False)
    op.create_index('ix_verdicts_review_id', 'verdicts', ['review_id'], unique=False)

    _append_only(create=True)


def downgrade() -> None:
    _append_only(create=False)
    op.drop_index('ix_verdicts_review_id', table_name='verdicts')
    op.drop_index('ix_verdicts_finding_id', table_name='verdicts')
    op.drop_table('verdicts')
    op.drop_index('ix_reviews_conversation_id', table_name='reviews')
    op.drop_table('reviews')
    op.drop_index('ix_findings_rule', table_name='findings')
    op.drop_index('ix_findings_conversation_id', table_name='findings')
    op.drop_table('findings')
    op.drop_index('ix_disputes_state', table_name='disputes')
    op.drop_index('ix_disputes_conversation_id', table_name='disputes')
    op.drop_table('disputes')
    op.drop_index('ix_conversations_team', table_name='conversations')
    op.drop_index('ix_conversations_status', table_name='conversations')
    op.drop_index('ix_conversations_risk', table_name='conversations')
    op.drop_index('ix_conversations_review_needed', table_name='conversations')
    op.drop_index('ix_conversations_day', table_name='conversations')
    op.drop_index('ix_conversations_assignee_id', table_name='conversations')
    op.drop_index('ix_conversations_agent_id', table_name='conversations')
    op.drop_table('conversations')
    op.drop_index('ix_audit_log_at', table_name='audit_log')
    op.drop_index('ix_audit_entity', table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_table('api_tokens')
    op.drop_index('ix_users_agent_id', table_name='users')
    op.drop_table('users')
    op.drop_table('runs')
    op.drop_index('ix_login_attempts_user_at', table_name='login_attempts')
    op.drop_index('ix_login_attempts_ip_at', table_name='login_attempts')
    op.drop_table('login_attempts')
