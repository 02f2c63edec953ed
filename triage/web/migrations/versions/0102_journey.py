"""The patient's journey (issue 20): an emergency the patient took back stays visible to the
clinic, and a browser whose session was continued on another device is told so.

* ``patient_sessions.emergency_corrected_at``: when the patient, shown the emergency advice, said
  they had answered a question by mistake and changed it so that it no longer is an emergency
  (the clinic's queue keeps the session, marked "emergency shown, then corrected by the patient");
* ``patient_moved_tokens``: the SHA-256 of a browser's old session token, when the session was
  continued on another device with its resume code; that browser is then told where its answers
  went (never that they were deleted). Deleted with the session (retention).

Revision ID: 0102_journey
Revises: 0101_clinic
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0102_journey"
down_revision = "0101_clinic"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patient_sessions") as batch:
        batch.add_column(sa.Column("emergency_corrected_at", sa.DateTime(timezone=True),
                                   nullable=True))
    op.create_table(
        "patient_moved_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("session_id", sa.String(32),
                  sa.ForeignKey("patient_sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("moved_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_patient_moved_tokens_session_id", "patient_moved_tokens", ["session_id"])


def downgrade() -> None:
    op.drop_index("ix_patient_moved_tokens_session_id", table_name="patient_moved_tokens")
    op.drop_table("patient_moved_tokens")
    with op.batch_alter_table("patient_sessions") as batch:
        batch.drop_column("emergency_corrected_at")
