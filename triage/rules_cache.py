"""The checked rulebook kept on disk, so that a command does not parse the rule YAML every time.

Reading and checking the rule files takes about 30 ms of each `triage assess`; loading the
result back takes about 1 ms. The cache file is named after a SHA-256 of everything the result
depends on: the content of every file in the rules directory, the directory's path and the
working directory (error messages and rule files are named relative to it), the Python version,
and the source of the modules that read rules (so a new triage never reads an old cache). Any
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
from pathlib import Path

KEEP = 16
_SOURCES = ("rulebook.py", "conditions.py", "questionnaire.py", "rules_cache.py")
_ALLOWED_MODULES = ("triage.rulebook", "triage.conditions", "triage.questionnaire")
# id(rulebook) -> (weak reference to it, its key): the key each rulebook loaded here was read or
# built under, for the engine results kept beside it (engine_store.py)
_KEYS: dict[int, tuple] = {}


def cache_dir() -> Path:
    explicit = os.environ.get("TRIAGE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "triage"


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


def _key(directory: Path) -> str:
    digest = sha256()
    here = Path(__file__).resolve().parent
    for name in _SOURCES:
        digest.update(name.encode() + b"\0" + (here / name).read_bytes() + b"\0")
    digest.update(f"{sys.version}\0{directory}\0{Path.cwd()}\0".encode())
    for path in sorted(directory.iterdir()):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:40]


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module in _ALLOWED_MODULES or (module == "datetime" and name == "date"):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"not part of a rulebook: {module}.{name}")


def load(directory: Path, build):
    """The rulebook of `directory`: from the cache when its key matches, else `build()`, which
    is then stored for next time."""
    if not enabled():
        return build()
    try:
        key = _key(directory)
    except OSError:
        return build()
    folder = cache_dir()
    path = folder / f"rulebook-{key}.pickle"
    try:
        with open(path, "rb") as handle:
            cached = _Unpickler(io.BytesIO(handle.read())).load()
        from .rulebook import Rulebook

        if isinstance(cached, Rulebook) and cached.directory == str(directory):
            return _remember(cached, key)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError,
            ValueError, IndexError, KeyError):
        pass
    rulebook = build()
    _store(folder, path, rulebook)
    return _remember(rulebook, key)


def _store(folder: Path, path: Path, rulebook) -> None:
    try:
        data = pickle.dumps(rulebook, protocol=pickle.HIGHEST_PROTOCOL)
        folder.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with open(temporary, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
        old = sorted(folder.glob("rulebook-*.pickle"), key=lambda p: p.stat().st_mtime)
        for stale in old[:-KEEP]:
            stale.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        pass  # a read-only home or an odd file system: just read the YAML next time
