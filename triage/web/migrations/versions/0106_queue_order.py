"""The clinic's queue at 100,000 submissions (issue 24, item 3): its order from an index.

The queue lists submissions most urgent first, each urgency newest first. Computing each row's
urgency rank and sorting every listed row took the queue page about 100 ms on 100,000
submissions in PostgreSQL, and counting them per urgency read the whole table again.

* ``patient_sessions.queue_rank``: the urgency's place in the queue (emergency 0, urgent 1,
  soon 2, self-care 3; none, an emergency the patient took back before finishing, 0). A
  generated column: the database computes it from the urgency itself (the newest check-in's,
  else the first visit's), on every insert and
  update, so it can never disagree with it; adding it fills it for every existing row;
* ``ix_patient_sessions_queue``: (rank, time of arrival newest first, id) over the listed
  sessions only (submitted, or an emergency taken back): the queue's order, read in order;
* ``ix_patient_sessions_listed_urgency``: the listed sessions' urgencies, which the counts per
  urgency read without reading the table.

SQLite (3.31 or newer; 3.35 to downgrade) has generated columns too: VIRTUAL there (added by
ALTER TABLE, without copying the table), STORED in PostgreSQL. The downgrade drops the indexes
and the column; nothing else is lost.

Revision ID: 0106_queue_order
Revises: 0105_follow_up
Create Date: 2026-12-08
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0106_queue_order"
down_revision = "0105_follow_up"
branch_labels = None
depends_on = None

# written out here, not imported: a revision stays what it was when the code changes
# a submission is ranked by its newest follow-up check-in's urgency when it has one (0105)
URGENCY = "coalesce(follow_up_urgency, urgency)"
RANK = (f"CASE {URGENCY} WHEN 'emergency' THEN 0 WHEN 'urgent' THEN 1 WHEN 'soon' THEN 2 "
        "WHEN 'self_care' THEN 3 ELSE 0 END")
# a check-in that escalated to urgent or emergency makes the submission arrive again, then
ARRIVED = "coalesce(escalated_at, submitted_at, emergency_corrected_at)"
LISTED = "submitted_at IS NOT NULL OR emergency_corrected_at IS NOT NULL"


def upgrade() -> None:
    # not in batch mode: on SQLite a batch copies the table, and dropping the old copy deletes
    # (ON DELETE CASCADE, foreign keys on) every review, note, contact and workflow row of it.
    # SQLite adds a generated column only as VIRTUAL (computed when read, and kept in the
    # index); PostgreSQL has STORED ones only (18 has VIRTUAL ones too, which it cannot index)
    stored = op.get_bind().dialect.name != "sqlite"
    op.add_column("patient_sessions", sa.Column("queue_rank", sa.SmallInteger(),
                                                sa.Computed(RANK, persisted=stored),
                                                nullable=True))
    where = {"postgresql_where": sa.text(LISTED), "sqlite_where": sa.text(LISTED)}
    op.create_index("ix_patient_sessions_queue", "patient_sessions",
                    ["queue_rank", sa.text(f"{ARRIVED} DESC"),
                     "id"], **where)
    # both columns, not the expression: PostgreSQL reads an expression index's rows from the table
    op.create_index("ix_patient_sessions_listed_urgency", "patient_sessions",
                    ["follow_up_urgency", "urgency"],
                    **where)


def downgrade() -> None:
    op.drop_index("ix_patient_sessions_listed_urgency", table_name="patient_sessions")
    op.drop_index("ix_patient_sessions_queue", table_name="patient_sessions")
    # ALTER TABLE ... DROP COLUMN on both (SQLite 3.35 or newer): no batch copy (see upgrade)
    op.drop_column("patient_sessions", "queue_rank")
