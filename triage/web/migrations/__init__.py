"""The Alembic environment of `triage serve`'s database (see ``triage.web.db.migrate``)."""
