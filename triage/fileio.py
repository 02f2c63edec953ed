"""Writing output files so that a reader never sees half of one."""
from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path


def _give_mode(tmp: str, target: Path) -> None:
    """mkstemp makes files only their owner can read; give the new file the mode an ordinary
    open() would (the target's own, if it exists, else what the umask allows)."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(tmp, mode)


def _is_special(path: Path) -> bool:
    """An existing target that is not a regular file (/dev/null, a named pipe, a terminal): it
    must be written through, never replaced by renaming a file over it."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def atomic_write(path: str | os.PathLike, data: str | bytes) -> None:
    """Write `data` to `path` all at once: a temporary file beside it, flushed, then renamed over
    it. On any failure (including Ctrl-C) the old file, if any, is left as it was. '-' writes to
    standard output."""
    if str(path) == "-":
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            sys.stdout.write(data)
            sys.stdout.flush()
        return
    target = Path(path)
    mode = "wb" if isinstance(data, bytes) else "w"
    if _is_special(target):
        with open(target, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as handle:
            handle.write(data)
        return
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        _give_mode(tmp, target)
        with os.fdopen(fd, mode, **({} if mode == "wb" else {"encoding": "utf-8",
                                                             "newline": ""})) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class AtomicTextWriter:
    """A text file written line by line and put in place only when closed without error."""

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        self._tmp = None
        self._special = False
        if self.path == "-":
            self._handle = sys.stdout
        elif _is_special(Path(self.path)):
            self._handle = open(self.path, "w", encoding="utf-8", newline="")
            self._special = True
        else:
            target = Path(self.path)
            directory = target.parent if str(target.parent) else Path(".")
            fd, self._tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                             dir=directory)
            _give_mode(self._tmp, target)
            self._handle = os.fdopen(fd, "w", encoding="utf-8", newline="")

    def write(self, text: str) -> None:
        self._handle.write(text)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._tmp is None:
            if self._special:
                self._handle.close()
            else:
                self._handle.flush()
            return False
        try:
            if exc_type is None:
                self._handle.flush()
                os.fsync(self._handle.fileno())
            self._handle.close()
            if exc_type is None:
                os.replace(self._tmp, self.path)
        finally:
            if os.path.exists(self._tmp):
                os.unlink(self._tmp)
        return False
