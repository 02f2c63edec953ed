"""Writing output files so that a reader never sees half of one."""
from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

from .errors import OutputError


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
        write_stdout(data)
        return
    target = Path(path)
    mode = "wb" if isinstance(data, bytes) else "w"
    if _is_special(target):
        try:
            with open(target, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as handle:
                handle.write(data)
        except OSError as exc:
            raise OutputError(exc, file=str(path)) from None
        return
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OutputError(exc, file=str(path)) from None
    try:
        _give_mode(tmp, target)
        with os.fdopen(fd, mode, **({} if mode == "wb" else {"encoding": "utf-8",
                                                             "newline": ""})) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise OutputError(exc, file=str(path)) from None
        raise


def write_stdout(data: str | bytes) -> None:
    """Write to standard output and flush; a closed or full one is an OutputError."""
    try:
        if sys.stdout is None:
            raise OSError(9, "standard output is closed")
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            sys.stdout.write(data)
            sys.stdout.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:
        raise OutputError(getattr(exc, "strerror", None) or str(exc),
                          file="<stdout>") from None


class AtomicTextWriter:
    """A text file written line by line and put in place only when closed without error."""

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        self._tmp = None
        self._special = False
        try:
            if self.path == "-":
                if sys.stdout is None:
                    raise OSError(9, "standard output is closed")
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
        except OSError as exc:
            if self._tmp is not None and os.path.exists(self._tmp):
                os.unlink(self._tmp)
            raise OutputError(exc, file=self.name) from None

    @property
    def name(self) -> str:
        return "<stdout>" if self.path == "-" else self.path

    def write(self, text: str) -> None:
        try:
            self._handle.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(exc, file=self.name) from None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self._close(exc_type)
        except BrokenPipeError:
            raise
        except OSError as error:
            if exc_type is None:
                raise OutputError(error, file=self.name) from None
        return False

    def _close(self, exc_type) -> None:
        if self._tmp is None:
            if self._special:
                self._handle.close()
            else:
                self._handle.flush()
            return
        try:
            try:
                if exc_type is None:
                    self._handle.flush()
                    os.fsync(self._handle.fileno())
            finally:
                try:
                    self._handle.close()
                except OSError:
                    if exc_type is None:
                        raise
            if exc_type is None:
                os.replace(self._tmp, self.path)
        finally:
            if os.path.exists(self._tmp):
                os.unlink(self._tmp)
