import signal

import pytest

from triage.rulebook import load_rulebook

# Several tests send Ctrl-C (SIGINT) to a `triage` they started and check what it does. A shell
# that starts a command in the background without job control (`cmd &` in a script) starts it
# with SIGINT ignored, every child inherits that, and Python then never turns Ctrl-C into
# KeyboardInterrupt: those tests would fail for the way the suite was started, not for triage.
# A handler of our own is not inherited (exec resets it to the default), so the children start
# as from a terminal.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def rulebook():
    """The shipped rulebook (contract section 3's default policy)."""
    return load_rulebook()


@pytest.fixture(autouse=True)
def _fresh_decisions():
    """Every test starts with no cached decision, so the first case of each distinct answer
    pattern goes through the engine and its cross-check (a test that tampers with the engine
    sees its tampering, never a decision cached by an earlier test)."""
    from triage.engine.decisions import clear_caches

    clear_caches()
    yield


@pytest.fixture(autouse=True)
def _own_cache_dir(tmp_path_factory, monkeypatch):
    """Every test has its own empty on-disk cache (the rulebook, and the engine results that
    `triage assess` keeps: triage/engine/store.py), for the same reason: a test that tampers with
    the engine must see the engine run, not a result stored by an earlier test or an earlier run
    on this machine. Child processes inherit it."""
    monkeypatch.setenv("TRIAGE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


# --------------------------------------------------------------------------- databases
# The storage and clinic tests run against both databases the web side supports: SQLite (the
# embedded default) and PostgreSQL (a throwaway cluster, tests/postgres.py). Neither is skipped:
# `.ci/system-packages` installs PostgreSQL when it is missing.

@pytest.fixture(scope="session")
def postgres_cluster():
    from postgres import PostgresCluster

    cluster = PostgresCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A SQLAlchemy URL of a fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'triage.db'}"
    return request.getfixturevalue("postgres_cluster").create_database()
