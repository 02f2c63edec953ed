"""Patient sessions: the answers as given, and the assessment once finished or an emergency.

Revision ID: 0001_patient_sessions
Revises:
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_patient_sessions"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patient_sessions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("resume_code_hash", sa.String(64), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("urgency", sa.String(16), nullable=True),
        sa.Column("assessment", sa.JSON(), nullable=True),
    )
    op.create_index("ix_patient_sessions_token_hash", "patient_sessions", ["token_hash"],
                    unique=True)
    op.create_index("ix_patient_sessions_resume_code_hash", "patient_sessions",
                    ["resume_code_hash"], unique=True)
    op.create_index("ix_patient_sessions_updated_at", "patient_sessions", ["updated_at"])
    op.create_index("ix_patient_sessions_submitted_at", "patient_sessions", ["submitted_at"])
    op.create_index("ix_patient_sessions_urgency", "patient_sessions", ["urgency"])


def downgrade() -> None:
    op.drop_table("patient_sessions")
