"""Retention: the audit log may lose rows older than its retention, and nothing else.

A one-row table ``retention_policy`` holds the audit log's retention in days (the server
writes its setting there at start; a CHECK keeps it at 30 days or more, so a mistaken
setting cannot wipe recent history). The triggers of 0003 are replaced: UPDATE (and, on
PostgreSQL, TRUNCATE) stay refused; DELETE is refused for every row that is not older than
the retention, judged by the database's own clock. The policy row itself cannot be deleted.

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: The least retention the database accepts, and the retention until the server sets its own.
FLOOR_DAYS = 30
DEFAULT_DAYS = 365
_REFUSED = "audit_log is append-only: only rows older than the retention may be deleted"

_SQLITE_UP = [
    "DROP TRIGGER audit_log_no_delete",
    # NULL (no policy row) compares as unknown: COALESCE makes that a refusal.
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "WHEN COALESCE(OLD.at < datetime('now', '-' || (SELECT audit_days FROM retention_policy WHERE id = 1) "
    f"|| ' days'), 0) = 0 BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END",
    "CREATE TRIGGER retention_policy_kept BEFORE DELETE ON retention_policy "
    "BEGIN SELECT RAISE(ABORT, 'retention_policy keeps its row'); END",
]
_SQLITE_DOWN = [
    "DROP TRIGGER retention_policy_kept",
    "DROP TRIGGER audit_log_no_delete",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
]
_POSTGRES_UP = [
    "DROP TRIGGER audit_log_append_only ON audit_log",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
    f"""CREATE FUNCTION audit_log_delete_expired() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NOT COALESCE(OLD.at < (now() AT TIME ZONE 'UTC')
                         - make_interval(days => (SELECT audit_days FROM retention_policy WHERE id = 1)), false) THEN
           RAISE EXCEPTION '{_REFUSED}';
         END IF;
         RETURN OLD;
       END $$""",
    "CREATE TRIGGER audit_log_delete_expired BEFORE DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_delete_expired()",
    """CREATE FUNCTION retention_policy_kept() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'retention_policy keeps its row'; END $$""",
    "CREATE TRIGGER retention_policy_kept BEFORE DELETE OR TRUNCATE ON retention_policy "
    "FOR EACH STATEMENT EXECUTE FUNCTION retention_policy_kept()",
]
_POSTGRES_DOWN = [
    "DROP TRIGGER retention_policy_kept ON retention_policy",
    "DROP FUNCTION retention_policy_kept()",
    "DROP TRIGGER audit_log_delete_expired ON audit_log",
    "DROP FUNCTION audit_log_delete_expired()",
    "DROP TRIGGER audit_log_append_only ON audit_log",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
]


def upgrade() -> None:
    op.create_table(
        "retention_policy",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("audit_days", sa.Integer(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_retention_policy_one_row"),
        sa.CheckConstraint(f"audit_days >= {FLOOR_DAYS}", name="ck_retention_policy_floor"),
    )
    op.execute(f"INSERT INTO retention_policy (id, audit_days) VALUES (1, {DEFAULT_DAYS})")
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_UP if dialect == "sqlite" else _POSTGRES_UP if dialect == "postgresql" else []:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_DOWN if dialect == "sqlite" else _POSTGRES_DOWN if dialect == "postgresql" else []:
        op.execute(statement)
    op.drop_table("retention_policy")
