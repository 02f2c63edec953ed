"""The checked rulebook kept on disk, so that a command does not parse the rule YAML every time.

Reading and checking the rule files takes about 30 ms of each `triage assess`; loading the
result back takes about 1 ms. The cache file is named after a SHA-256 of everything the result
depends on: the content of every file in the rules directory, the directory's path and the
working directory (error messages and rule files are named relative to it), the Python version,
and the modules that read rules, by path, modification time and size, as Python checks them
before running their compiled code (so a new triage never reads an old cache). Any
change to a rule file is therefore a new key, never a stale rulebook.

Where: ``$TRIAGE_CACHE_DIR``, else ``$XDG_CACHE_HOME/triage``, else ``~/.cache/triage``; at most
``KEEP`` files are kept (the oldest go). ``TRIAGE_NO_RULES_CACHE=1`` turns it off. A cache that
cannot be read or written is ignored: the rule files are then read as usual. The file is read
with an unpickler that only rebuilds the rulebook's own classes (triage's dataclasses, dates),
never anything that could run code.
"""
from __future__ import annotations

import io
import os
import pickle
import sys
import weakref

from . import cachedir

KEEP = 16
_SOURCES = ("rulebook.py", "conditions.py", "questionnaire.py", "rules_cache.py", "instrument.py", "advice.py")
_ALLOWED_MODULES = ("triage.rulebook", "triage.conditions", "triage.questionnaire",
                    "triage.instrument", "triage.advice")
# id(rulebook) -> (weak reference to it, its key): the key each rulebook loaded here was read or
# built under, for the engine results kept beside it (engine/store.py)
_KEYS: dict[int, tuple] = {}


def key_for(rulebook) -> str | None:
    """The cache key that `rulebook` was loaded under by ``load`` in this process (a digest of
    its rule files and of the code that reads them), or None for a rulebook not loaded that way
    (the cache off, unreadable files, a rulebook made in memory)."""
    entry = _KEYS.get(id(rulebook))
    if entry is not None and entry[0]() is rulebook:
        return entry[1]
    return None


def _remember(rulebook, key: str):
    number = id(rulebook)

    def forget(ref, number=number):
        if _KEYS.get(number, (None,))[0] is ref:
            del _KEYS[number]

    try:
        _KEYS[number] = (weakref.ref(rulebook, forget), key)
    except TypeError:  # not a Rulebook (tests pass stand-ins): nothing to remember
        pass
    return rulebook


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _key(directory) -> str:
    directory = os.fspath(directory)
    digest = cachedir.sha256()
    here = os.path.dirname(os.path.realpath(__file__))
    for name in _SOURCES:
        digest.update(cachedir.source_stamp(os.path.join(here, name)))
    digest.update(f"{sys.version}\0{directory}\0{os.getcwd()}\0".encode())
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            digest.update(name.encode() + b"\0" + _read_bytes(path) + b"\0")
    return digest.hexdigest()[:40]


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module in _ALLOWED_MODULES or (module == "datetime" and name == "date"):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"not part of a rulebook: {module}.{name}")


def load(directory, build):
    """The rulebook of `directory` (a path): from the cache when its key matches, else
    `build()`, which is then stored for next time."""
    if not cachedir.enabled():
        return build()
    directory = os.fspath(directory)
    try:
        key = _key(directory)
    except OSError:
        return build()
    folder = cachedir.cache_folder()
    path = os.path.join(folder, f"rulebook-{key}.pickle")
    try:
        with open(path, "rb") as handle:
            cached = _Unpickler(io.BytesIO(handle.read())).load()
        # a Rulebook, named rather than imported: the rulebook reads this cache, not the reverse
        kind = type(cached)
        if ((kind.__module__, kind.__qualname__) == ("triage.rulebook", "Rulebook")
                and cached.directory == directory):
            return _remember(cached, key)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError,
            ValueError, IndexError, KeyError):
        pass
    rulebook = build()
    _store(folder, path, rulebook)
    return _remember(rulebook, key)


def _store(folder: str, path: str, rulebook) -> None:
    try:
        data = pickle.dumps(rulebook, protocol=pickle.HIGHEST_PROTOCOL)
        os.makedirs(folder, exist_ok=True)
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
        old = sorted((os.path.join(folder, name) for name in os.listdir(folder)
                      if name.startswith("rulebook-") and name.endswith(".pickle")),
                     key=os.path.getmtime)
        for stale in old[:-KEEP]:
            try:
                os.unlink(stale)
            except FileNotFoundError:
                pass
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        pass  # a read-only home or an odd file system: just read the YAML next time
