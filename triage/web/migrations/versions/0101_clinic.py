"""The clinic: staff accounts, signed-in sessions, reviews, and the append-only audit trail.

The audit table refuses UPDATE and DELETE in the database itself: a trigger in SQLite, a trigger
(and one for TRUNCATE) in PostgreSQL, so that not even a bug or a hand-typed SQL statement in the
application's own connection rewrites history.

Revision ID: 0101_clinic
Revises: 0001_patient_sessions
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0101_clinic"
down_revision = "0001_patient_sessions"
branch_labels = None
depends_on = None

APPEND_ONLY = "the audit trail is append-only"


def upgrade() -> None:
    op.create_table(
        "clinic_users",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('clinician', 'admin')", name="ck_clinic_users_role"),
    )
    op.create_table(
        "clinic_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer(),
                  sa.ForeignKey("clinic_users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_clinic_sessions_user_id", "clinic_sessions", ["user_id"])
    op.create_index("ix_clinic_sessions_last_seen_at", "clinic_sessions", ["last_seen_at"])
    op.create_table(
        "clinic_reviews",
        sa.Column("submission_id", sa.String(32),
                  sa.ForeignKey("patient_sessions.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("clinic_users.id"), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        # not a foreign key: the trail outlives the submissions that retention deletes
        sa.Column("submission_id", sa.String(32), nullable=True),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("detail", sa.String(200), nullable=True),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_submission_id", "audit_events", ["submission_id"])
    op.create_index("ix_audit_events_actor_action_at", "audit_events", ["actor", "action", "at"])
    op.create_index("ix_audit_events_address_action_at", "audit_events",
                    ["address", "action", "at"])

    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{APPEND_ONLY}';
            END $$""")
        op.execute("""CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE
                      ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()""")
        op.execute("""CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE
                      ON audit_events FOR EACH STATEMENT
                      EXECUTE FUNCTION audit_events_append_only()""")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb}
                           ON audit_events BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE audit_events")
        op.execute("DROP FUNCTION audit_events_append_only()")
    else:
        op.drop_table("audit_events")
    op.drop_table("clinic_reviews")
    op.drop_table("clinic_sessions")
    op.drop_table("clinic_users")
