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

KEEP = 16
_SOURCES = ("rulebook.py", "conditions.py", "questionnaire.py", "rules_cache.py")
_ALLOWED_MODULES = ("triage.rulebook", "triage.conditions", "triage.questionnaire")
# id(rulebook) -> (weak reference to it, its key): the key each rulebook loaded here was read or
# built under, for the engine results kept beside it (engine_store.py)
_KEYS: dict[int, tuple] = {}


def cache_dir():
    """The cache's folder, as a ``pathlib.Path``."""
    from pathlib import Path

    return Path(cache_folder())


def cache_folder() -> str:
    """The cache's folder, as a string (paths here are handled with ``os.path``: a cached start
    imports no pathlib)."""
    explicit = os.environ.get("TRIAGE_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "triage")


def enabled() -> bool:
    return os.environ.get("TRIAGE_NO_RULES_CACHE", "").strip().lower() in ("", "0", "false", "no")


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


def sha256(data: bytes = b""):
    """``hashlib.sha256``, from CPython's own built-in implementation when there is one: the same
    digest, without ``import hashlib`` loading OpenSSL (about 2.5 ms of a `triage assess`)."""
    try:
        from _sha2 import sha256 as constructor  # Python 3.12 and later
    except ImportError:
        try:
            from _sha256 import sha256 as constructor  # Python 3.10 and 3.11
        except ImportError:  # a Python built without them
            from hashlib import sha256 as constructor
    return constructor(data)


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def source_stamp(path: str) -> bytes:
    """What a cache key records of a Python source file: its path, modification time (ns) and
    size. That is what Python itself checks before it runs a module's compiled .pyc (with the
    time in whole seconds), so a key can be no more exact about the code that will run; the rule
    files, which are data, are keyed by their content."""
    info = os.stat(path)
    return f"{path}\0{info.st_mtime_ns}\0{info.st_size}\0".encode()


def _key(directory) -> str:
    directory = os.fspath(directory)
    digest = sha256()
    here = os.path.dirname(os.path.realpath(__file__))
    for name in _SOURCES:
        digest.update(source_stamp(os.path.join(here, name)))
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
    if not enabled():
        return build()
    directory = os.fspath(directory)
    try:
        key = _key(directory)
    except OSError:
        return build()
    folder = cache_folder()
    path = os.path.join(folder, f"rulebook-{key}.pickle")
    try:
        with open(path, "rb") as handle:
            cached = _Unpickler(io.BytesIO(handle.read())).load()
        from .rulebook import Rulebook

        if isinstance(cached, Rulebook) and cached.directory == directory:
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
