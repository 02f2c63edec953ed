"""The one place that imports experta.

Why this module exists
----------------------
experta 1.9.4 (the last release) pins ``frozendict==1.2``. That frozendict defines its class as
``class frozendict(collections.Mapping)``; the ``collections.Mapping`` alias was removed in Python
3.10, so ``import experta`` fails on every Python this project supports with::

    AttributeError: module 'collections' has no attribute 'Mapping'

experta itself only uses ``collections.abc``; frozendict 1.2 reads the old alias exactly once, while
its class body is executed at import. So we put the alias back for the duration of that one import
and take it away again, leaving the standard library as we found it. Nothing else in the project
may import experta or frozendict directly: everything goes through the names re-exported here.

The agenda bug
--------------
experta 1.9.4's ``DepthStrategy._update_agenda`` removes a cancelled activation by bisecting on its
(salience, facts) key and looking only one slot either side. When three or more activations share
that key -- typically several rules whose only pattern is a ``NOT`` -- some cancelled activations
stay on the agenda and fire (tests/test_engine_safety.py, part 1, shows it on stock experta).
The engine in ``triage/engine/rete.py`` never gives the bug a chance: it compiles no ``NOT`` element and never retracts
or modifies a fact, so an activation, once on the agenda, is never cancelled. Absence ("no red
flag", "no other cause") is tested only against a snapshot fact declared after the rules that could
conclude it have all run (stratified negation). ``tests/test_engine_safety.py`` shows the naive
shape misfiring on stock experta and ours not.
"""
from __future__ import annotations

import collections
import collections.abc
import importlib.machinery
import importlib.util
import logging
import marshal
import os
import sys


class _WithoutAsserts(importlib.machinery.SourceFileLoader):
    """Loads an experta module compiled as ``python -O`` would: without its ``assert`` lines.

    experta checks the type of every fact of every token it makes with ``assert isinstance``
    (matchers/rete/token.py), about a tenth of an assessment. Those checks guard against misuse
    of experta's internals, which this project never does; the engine's own checks (the
    cross-check in engine/rete.py) stay. The compiled code is cached beside the stock one, as an
    ``.opt-1.pyc`` file, exactly where ``python -O`` would put it.
    """

    def get_code(self, fullname):
        path = self.get_filename(fullname)
        try:
            stat = os.stat(path)
        except OSError:
            return super().get_code(fullname)
        cached = importlib.util.cache_from_source(path, optimization=1)
        header = (importlib.util.MAGIC_NUMBER + b"\0\0\0\0"
                  + (int(stat.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little")
                  + (stat.st_size & 0xFFFFFFFF).to_bytes(4, "little"))
        try:
            with open(cached, "rb") as handle:
                data = handle.read()
            if data[:16] == header:
                return marshal.loads(data[16:])
        except (OSError, ValueError, EOFError):
            pass
        code = compile(self.get_data(path), path, "exec", dont_inherit=True, optimize=1)
        try:  # best effort, as Python's own cache: a read-only site-packages just compiles again
            os.makedirs(os.path.dirname(cached), exist_ok=True)
            temporary = f"{cached}.{os.getpid()}.tmp"
            with open(temporary, "wb") as handle:
                handle.write(header + marshal.dumps(code))
            os.replace(temporary, cached)
        except OSError:
            pass
        return code


class _ExpertaFinder:
    """Finds experta's modules as usual, then loads them with _WithoutAsserts."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name != "experta" and not name.startswith("experta."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = _WithoutAsserts(spec.loader.name, spec.loader.path)
        return spec


def _import_experta():
    added = []
    for name in ("Mapping", "MutableMapping", "Sequence", "Iterable", "Hashable", "Callable"):
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))
            added.append(name)
    # experta.watchers calls logging.basicConfig() when imported, which would give the program
    # that imports triage a root log handler it never asked for (and print its warnings in our
    # format). It is made a no-op for the length of this import.
    basic_config = logging.basicConfig
    logging.basicConfig = lambda *args, **kwargs: None
    sys.meta_path.insert(0, _ExpertaFinder)
    try:
        import experta  # noqa: F401  (the import this module exists for)
    finally:
        sys.meta_path.remove(_ExpertaFinder)
        logging.basicConfig = basic_config
        for name in added:
            delattr(collections, name)
    _quiet_watchers(sys.modules["experta.watchers"])
    return sys.modules["experta"]


def _quiet_watchers(watchers) -> None:
    """experta logs every rule firing (and more) through its "watchers" loggers. Keep them out of
    the program's own logging: they stop at CRITICAL, reach no handler of the program's, and
    ``experta.watchers.watch()`` can still turn them on for debugging."""
    for name in watchers.ALL:
        logger = getattr(watchers, name)
        logger.setLevel(logging.CRITICAL)
        logger.propagate = False
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())


_experta = _import_experta()

AS = _experta.AS
Fact = _experta.Fact
KnowledgeEngine = _experta.KnowledgeEngine
NOT = _experta.NOT  # re-exported for the safety test's naive engine only; triage/engine.py never uses it
Rule = _experta.Rule
TEST = _experta.TEST
# EXISTS and FORALL are built from NOT nodes too: re-exported only so that the safety test can
# check that no compiled rule uses them.
EXISTS = _experta.EXISTS
FORALL = _experta.FORALL
# The engine's two documented extension points (KnowledgeEngine.__matcher__ and __strategy__ take
# subclasses of these); triage/engine.py subclasses them, it never patches them.
ReteMatcher = sys.modules["experta.matchers"].ReteMatcher
DepthStrategy = sys.modules["experta.strategies"].DepthStrategy
# What the engine's own reset() and run() (engine._TriageEngine) build and consult, as experta's
# do: a fresh agenda and fact list per case, and the watchers (experta's loggers).
Agenda = sys.modules["experta.agenda"].Agenda
FactList = sys.modules["experta.factlist"].FactList
watchers = sys.modules["experta.watchers"]
ConditionalElement = sys.modules["experta.conditionalelement"].ConditionalElement

__all__ = ["AS", "ConditionalElement", "DepthStrategy", "EXISTS", "FORALL", "Fact",
           "KnowledgeEngine", "NOT", "ReteMatcher", "Rule", "TEST"]
