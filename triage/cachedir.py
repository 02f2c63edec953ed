"""triage's cache folder, shared by the caches that keep work on disk between runs.

The checked rulebook (rules_cache.py), the compiled code of generated functions (codecache.py),
the compiled report templates (templating.py) and the engine's results (engine/store.py) all live
in one folder: ``$TRIAGE_CACHE_DIR``, else ``$XDG_CACHE_HOME/triage``, else ``~/.cache/triage``.
``TRIAGE_NO_RULES_CACHE=1`` turns every one of them off. This module knows where the folder is,
whether caching is on, and how a key is made; it depends on nothing else of triage's.
"""
from __future__ import annotations

import os


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


def source_stamp(path: str) -> bytes:
    """What a cache key records of a Python source file: its path, modification time (ns) and
    size. That is what Python itself checks before it runs a module's compiled .pyc (with the
    time in whole seconds), so a key can be no more exact about the code that will run; the rule
    files, which are data, are keyed by their content."""
    info = os.stat(path)
    return f"{path}\0{info.st_mtime_ns}\0{info.st_size}\0".encode()


def private_folder(folder: str) -> bool:
    """Make `folder` (mode 700) if missing; whether it is a folder of this user's that no one
    else may write to: Jinja's rule for the folder of its compiled templates."""
    import stat

    try:
        os.makedirs(folder, mode=stat.S_IRWXU, exist_ok=True)
        info = os.lstat(folder)
    except OSError:
        return False
    mine = info.st_uid == os.getuid() if hasattr(os, "getuid") else True
    return (mine and stat.S_ISDIR(info.st_mode)
            and not stat.S_IMODE(info.st_mode) & (stat.S_IWGRP | stat.S_IWOTH))
