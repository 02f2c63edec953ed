"""The clinic can act on what arrives (issue 24): who the patient is, and a workflow.

* ``patient_sessions.reference``: the short reference every submission gets, which the patient
  can read out (clinic/contact.py); unique;
* ``clinic_contacts``: a patient's contact details, given with consent, as one Fernet token
  (never in the clear) and the search digests (HMAC) of the name and the patient number;
* ``clinic_workflow``: a submission's status (new, contacted, booked, referred, closed) and
  assignee, and who changed it last and when (every change is in the audit trail);
* ``clinic_notes``: clinicians' notes on a submission.

All are deleted with their submission (ON DELETE CASCADE).

Revision ID: 0104_clinic_workflow
Revises: 0103_integrity
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0104_clinic_workflow"
down_revision = "0103_integrity"
branch_labels = None
depends_on = None


def _submission():
    return sa.ForeignKey("patient_sessions.id", ondelete="CASCADE")


def upgrade() -> None:
    with op.batch_alter_table("patient_sessions") as batch:
        batch.add_column(sa.Column("reference", sa.String(12), nullable=True))
    op.create_index("ix_patient_sessions_reference", "patient_sessions", ["reference"],
                    unique=True)
    op.create_table(
        "clinic_contacts",
        sa.Column("submission_id", sa.String(32), _submission(), primary_key=True),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("name_digest", sa.String(64), nullable=True),
        sa.Column("number_digest", sa.String(64), nullable=True),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_clinic_contacts_name_digest", "clinic_contacts", ["name_digest"])
    op.create_index("ix_clinic_contacts_number_digest", "clinic_contacts", ["number_digest"])
    op.create_table(
        "clinic_workflow",
        sa.Column("submission_id", sa.String(32), _submission(), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assignee_id", sa.Integer(), sa.ForeignKey("clinic_users.id"), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by_id", sa.Integer(), sa.ForeignKey("clinic_users.id"),
                  nullable=True),
    )
    op.create_index("ix_clinic_workflow_status", "clinic_workflow", ["status"])
    op.create_index("ix_clinic_workflow_assignee_id", "clinic_workflow", ["assignee_id"])
    op.create_table(
        "clinic_notes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("submission_id", sa.String(32), _submission(), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("clinic_users.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
    )
    op.create_index("ix_clinic_notes_submission_id", "clinic_notes", ["submission_id"])


def downgrade() -> None:
    op.drop_index("ix_clinic_notes_submission_id", table_name="clinic_notes")
    op.drop_table("clinic_notes")
    op.drop_index("ix_clinic_workflow_assignee_id", table_name="clinic_workflow")
    op.drop_index("ix_clinic_workflow_status", table_name="clinic_workflow")
    op.drop_table("clinic_workflow")
    op.drop_index("ix_clinic_contacts_number_digest", table_name="clinic_contacts")
    op.drop_index("ix_clinic_contacts_name_digest", table_name="clinic_contacts")
    op.drop_table("clinic_contacts")
    op.drop_index("ix_patient_sessions_reference", table_name="patient_sessions")
    with op.batch_alter_table("patient_sessions") as batch:
        batch.drop_column("reference")
