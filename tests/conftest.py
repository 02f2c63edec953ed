import functools
import inspect
import os
import re
import signal
from pathlib import Path

import pytest
from hypothesis import settings

from triage.rulebook import load_rulebook

# Several tests send Ctrl-C (SIGINT) to a `triage` they started and check what it does. A shell
# that starts a command in the background without job control (`cmd &` in a script) starts it
# with SIGINT ignored, every child inherits that, and Python then never turns Ctrl-C into
# KeyboardInterrupt: those tests would fail for the way the suite was started, not for triage.
# A handler of our own is not inherited (exec resets it to the default), so the children start
# as from a terminal.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


# --------------------------------------------------------------------------- quick and slow tests
# A bare `pytest` is the quick loop: it leaves out the tests marked `slow` and runs the hypothesis
# properties at a tenth of their depth (tests/support.py's depth()). `pytest --all` (what CI runs,
# `.ci/run`) runs every test at full depth; so does a run of named files (`pytest
# tests/test_x.py`: the file you name is the file you want) and any run with `-m` or `-k`. Every
# kind of slow test has its own marker, which implies `slow`. Four are found here, so a new test
# is marked without anyone remembering to: `browser` (the `browser` fixture), `pdf` (the
# `pdf_reader` fixture), `postgres` (the
# `postgres_cluster` fixture or a `postgresql` parameter) and `process` (the test, a helper of its
# module or a fixture it uses starts a process: see _SPAWNS). `deep` and `long` are written on
# the test. docs/contributors/testing.md says which command runs which.

SLOW_KINDS = {
    "browser": "drives a real Chromium through Playwright (the `browser` fixture)",
    "postgres": "runs against the throwaway PostgreSQL cluster (`postgres_cluster`, "
                "or a `postgresql` parameter)",
    "process": "starts real `triage` processes or servers and waits on them",
    "deep": "many generated cases or trials (hypothesis at depth, generated journeys, races)",
    "long": "a bounded load or race test of many trials",
    "pdf": "renders PDFs with WeasyPrint (the `pdf_reader` fixture)",
}
QUICK_REPORT_OVER = 2.0  # seconds: a quick test slower than this is listed at the end


def pytest_addoption(parser):
    parser.addoption("--all", action="store_true", dest="run_all",
                     help="run every test, the slow ones included, hypothesis at full depth "
                          "(what CI runs: .ci/run)")


def _named_files(config) -> bool:
    """Whether the command line names test files or tests (not just the tests directory)."""
    if config.args_source is not pytest.Config.ArgsSource.ARGS:
        return False
    return any("::" in arg or Path(arg.split("::")[0]).is_file() for arg in config.args)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: left out of the quick loop (a bare `pytest`); "
                                       "every marker below implies it")
    for name, what in SLOW_KINDS.items():
        config.addinivalue_line("markers", f"{name}: {what} (implies slow)")
    # Decided once, by the controller; pytest-xdist's workers inherit the environment, so they
    # collect and deselect exactly as it does, and test processes see it too.
    if not hasattr(config, "workerinput"):
        quick = not (config.getoption("run_all") or config.option.markexpr
                     or config.option.keyword or _named_files(config))
        os.environ["TRIAGE_TESTS"] = "quick" if quick else "full"
    settings.register_profile("quick", max_examples=10, deadline=None)
    if os.environ.get("TRIAGE_TESTS") == "quick":
        settings.load_profile("quick")


def _is_postgres(item) -> bool:
    if "postgres_cluster" in item.fixturenames:
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and "postgresql" in [str(v) for v in callspec.params.values()]


# What starts a real process: a `triage` or Python child, `triage serve` (tests/web_support.py's
# Server), a pseudo-terminal, a pool of processes.
_SPAWNS = re.compile(r"subprocess\.(?:run|Popen|call|check_call|check_output)\b|\bServer\(|"
                     r"pexpect\.spawn|\.Pool\(|create_subprocess_exec")


def _source(function) -> str:
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return ""


@functools.cache
def _spawning_helpers(module) -> frozenset:
    """The module's own functions that start a process, directly or through another of them."""
    functions = {name: _source(obj) for name, obj in vars(module).items()
                 if inspect.isfunction(obj) and obj.__module__ == module.__name__}
    spawning = {name for name, text in functions.items() if _SPAWNS.search(text)}
    grown = True
    while grown:
        grown = False
        for name, text in functions.items():
            if name not in spawning and any(re.search(rf"\b{helper}\(", text)
                                            for helper in spawning):
                spawning.add(name)
                grown = True
    return frozenset(spawning)


def _spawns(function) -> bool:
    function = inspect.unwrap(function)
    text = _source(function)
    if _SPAWNS.search(text):
        return True
    module = inspect.getmodule(function)
    return module is not None and any(re.search(rf"\b{helper}\(", text)
                                      for helper in _spawning_helpers(module))


def _is_process(item) -> bool:
    """Whether the test, or a fixture it uses, starts a real process (found in their source)."""
    if _spawns(item.function):
        return True
    return any(_spawns(definition.func)
               for definitions in item._fixtureinfo.name2fixturedefs.values()
               for definition in definitions)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    quick, slow = [], []
    for item in items:
        if "browser" in item.fixturenames:
            item.add_marker(pytest.mark.browser)
        if _is_postgres(item):
            item.add_marker(pytest.mark.postgres)
        if "pdf_reader" in item.fixturenames:
            item.add_marker(pytest.mark.pdf)
        if isinstance(item, pytest.Function) and _is_process(item):
            item.add_marker(pytest.mark.process)
        if any(item.get_closest_marker(kind) for kind in SLOW_KINDS):
            item.add_marker(pytest.mark.slow)
        (slow if item.get_closest_marker("slow") else quick).append(item)
    if os.environ.get("TRIAGE_TESTS") == "quick" and slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = quick
        config._triage_left_out = len(slow)


_quick_durations: dict[str, float] = {}


def pytest_runtest_logreport(report):
    if os.environ.get("TRIAGE_TESTS") == "quick":
        _quick_durations[report.nodeid] = _quick_durations.get(report.nodeid, 0) + report.duration


def pytest_terminal_summary(terminalreporter, config):
    if os.environ.get("TRIAGE_TESTS") != "quick":
        return
    left_out = getattr(config, "_triage_left_out", 0)
    terminalreporter.write_line(
        f"quick loop: {left_out} slow tests not run and hypothesis at a tenth of its depth; "
        "`pytest --all` runs everything as CI does (docs/contributors/testing.md)")
    over = sorted(((d, n) for n, d in _quick_durations.items() if d > QUICK_REPORT_OVER),
                  reverse=True)
    if over:
        terminalreporter.write_line(
            f"quick tests slower than {QUICK_REPORT_OVER:g} s (mark them slow, or a kind of slow, "
            "to keep the loop quick):")
        for duration, nodeid in over[:20]:
            terminalreporter.write_line(f"  {duration:5.1f} s  {nodeid}")


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
