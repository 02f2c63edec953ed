"""Follow-up check-ins (issue 25): a `self_care` or `soon` submission is checked on again.

* ``patient_sessions.follow_up_code_hash``: the SHA-256 of the follow-up code the patient was
  given (never the code); unique;
* ``patient_sessions.follow_up_due_at``: the review date the patient was told (the submission's
  time plus the assessment's ``review_in_days``); the queue lists a submission whose date passed
  without a check-in as missed;
* ``patient_sessions.follow_up_at``, ``follow_up_urgency``, ``follow_up_course``: the newest
  completed check-in's time, urgency and course (better, same, worse), for the queue;
* ``patient_sessions.escalated_at``: the newest check-in that escalated to urgent or emergency;
* ``follow_up_check_ins``: each check-in, its answers and its re-triaged outcome.

Check-ins are deleted with their submission (ON DELETE CASCADE).

Revision ID: 0105_follow_up
Revises: 0104_clinic_workflow
Create Date: 2026-12-08
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0105_follow_up"
down_revision = "0104_clinic_workflow"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ALTER TABLE, never a batch copy: on SQLite a batch copies patient_sessions, and
    # dropping the old copy deletes (ON DELETE CASCADE) every row that refers to it
    for column in (sa.Column("follow_up_code_hash", sa.String(64), nullable=True),
                   sa.Column("follow_up_due_at", sa.DateTime(timezone=True), nullable=True),
                   sa.Column("follow_up_at", sa.DateTime(timezone=True), nullable=True),
                   sa.Column("follow_up_urgency", sa.String(16), nullable=True),
                   sa.Column("follow_up_course", sa.String(16), nullable=True),
                   sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True)):
        op.add_column("patient_sessions", column)
    op.create_index("ix_patient_sessions_follow_up_code_hash", "patient_sessions",
                    ["follow_up_code_hash"], unique=True)
    op.create_index("ix_patient_sessions_follow_up_due_at", "patient_sessions",
                    ["follow_up_due_at"])
    op.create_index("ix_patient_sessions_follow_up_course", "patient_sessions",
                    ["follow_up_course"])
    op.create_index("ix_patient_sessions_escalated_at", "patient_sessions", ["escalated_at"])
    op.create_table(
        "follow_up_check_ins",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("submission_id", sa.String(32),
                  sa.ForeignKey("patient_sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("urgency", sa.String(16), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=True),
    )
    op.create_index("ix_follow_up_check_ins_submission_id", "follow_up_check_ins",
                    ["submission_id"])
    op.create_index("ix_follow_up_check_ins_token_hash", "follow_up_check_ins", ["token_hash"],
                    unique=True)
    op.create_index("ix_follow_up_check_ins_completed_at", "follow_up_check_ins",
                    ["completed_at"])


def downgrade() -> None:
    op.drop_index("ix_follow_up_check_ins_completed_at", table_name="follow_up_check_ins")
    op.drop_index("ix_follow_up_check_ins_token_hash", table_name="follow_up_check_ins")
    op.drop_index("ix_follow_up_check_ins_submission_id", table_name="follow_up_check_ins")
    op.drop_table("follow_up_check_ins")
    op.drop_index("ix_patient_sessions_escalated_at", table_name="patient_sessions")
    op.drop_index("ix_patient_sessions_follow_up_course", table_name="patient_sessions")
    op.drop_index("ix_patient_sessions_follow_up_due_at", table_name="patient_sessions")
    op.drop_index("ix_patient_sessions_follow_up_code_hash", table_name="patient_sessions")
    # ALTER TABLE ... DROP COLUMN on both (SQLite 3.35 or newer), no batch copy (see upgrade)
    for column in ("escalated_at", "follow_up_course", "follow_up_urgency", "follow_up_at",
                   "follow_up_due_at", "follow_up_code_hash"):
        op.drop_column("patient_sessions", column)
