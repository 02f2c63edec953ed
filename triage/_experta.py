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
stay on the agenda and fire (``shared/repro/experta_not_agenda.py``). The engine in
``triage/engine.py`` never gives the bug a chance: it compiles no ``NOT`` element and never retracts
or modifies a fact, so an activation, once on the agenda, is never cancelled. Absence ("no red
flag", "no other cause") is tested only against a snapshot fact declared after the rules that could
conclude it have all run (stratified negation). ``tests/test_engine_safety.py`` shows the naive
shape misfiring on stock experta and ours not.
"""
from __future__ import annotations

import collections
import collections.abc
import sys


def _import_experta():
    added = []
    for name in ("Mapping", "MutableMapping", "Sequence", "Iterable", "Hashable", "Callable"):
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))
            added.append(name)
    try:
        import experta  # noqa: F401  (the import this module exists for)
    finally:
        for name in added:
            delattr(collections, name)
    return sys.modules["experta"]


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
ConditionalElement = sys.modules["experta.conditionalelement"].ConditionalElement

__all__ = ["AS", "ConditionalElement", "DepthStrategy", "EXISTS", "FORALL", "Fact",
           "KnowledgeEngine", "NOT", "ReteMatcher", "Rule", "TEST"]
