"""The web front end (`triage serve`): the patient's questionnaire and report in a browser.

It is the third part of the package, beside the core (questionnaire, conditions, rulebook, engine,
report) and the command line (``triage.cli``); like the command line it only calls the core:

* ``app``: the ASGI application factory (FastAPI): settings, middleware, the routes;
* ``db``: the storage (SQLAlchemy 2 models, the ``Base`` later migrations build on, engines);
* ``migrations``: the Alembic environment and revisions, shipped inside the package so that
  ``triage serve`` migrates its database from any install and any directory.
"""
