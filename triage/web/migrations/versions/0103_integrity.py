"""The audit trail's hash chain, and SQLite refusing REPLACE on audit rows (issue 22).

* ``audit_events.prev_hash`` and ``audit_events.hash``: each event keeps the previous event's
  hash and the SHA-256 of that and of its own fields (triage/web/clinic/audit.py), so that
  `triage audit --verify` finds a changed, removed or inserted row. Events stored before this
  revision are chained here, oldest first (the append-only trigger is lifted for that one
  UPDATE, inside this revision's transaction, and put back).
* SQLite: ``REPLACE INTO`` / ``INSERT OR REPLACE`` deletes the row it replaces without firing
  DELETE triggers, so it rewrote history past the append-only trigger; an INSERT trigger now
  refuses a row whose id is already taken.

Revision ID: 0103_integrity
Revises: 0102_journey
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0103_integrity"
down_revision = "0102_journey"
branch_labels = None
depends_on = None

APPEND_ONLY = "the audit trail is append-only"


def upgrade() -> None:
    from triage.web.clinic.audit import GENESIS, chain_hash

    op.add_column("audit_events", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("audit_events", sa.Column("hash", sa.String(64), nullable=True))
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    events = sa.table("audit_events", sa.column("id"), sa.column("at", sa.DateTime(timezone=True)),
                      sa.column("actor"), sa.column("action"), sa.column("submission_id"),
                      sa.column("address"), sa.column("detail"), sa.column("prev_hash"),
                      sa.column("hash"))
    rows = bind.execute(sa.select(events).order_by(events.c.id)).mappings().all()
    if rows:
        if postgres:
            op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change")
        else:
            op.execute("DROP TRIGGER audit_events_no_update")
        previous = GENESIS
        for row in rows:
            digest = chain_hash(previous, **dict(row))
            bind.execute(events.update().where(events.c.id == row["id"])
                         .values(prev_hash=previous, hash=digest))
            previous = digest
        if postgres:
            op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change")
        else:
            op.execute(f"""CREATE TRIGGER audit_events_no_update BEFORE UPDATE
                           ON audit_events BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END""")
    if not postgres:
        op.execute(f"""CREATE TRIGGER audit_events_no_replace BEFORE INSERT ON audit_events
                       WHEN EXISTS (SELECT 1 FROM audit_events WHERE id = NEW.id)
                       BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TRIGGER audit_events_no_replace")
        # SQLite drops a column by copying the table, which the append-only triggers allow
        with op.batch_alter_table("audit_events") as batch:
            batch.drop_column("hash")
            batch.drop_column("prev_hash")
    else:
        op.drop_column("audit_events", "hash")
        op.drop_column("audit_events", "prev_hash")
