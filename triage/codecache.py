"""The compiled code of triage's generated functions, kept on disk.

The atom vector, the compiled validation and the cross-check's conditions are Python functions
generated from the rulebook (``generated_function`` below, conditions.compile_check). Compiling
their source was about half of what `triage assess` spent on its rulebook after start-up: about
2.5 ms, on every run, for the same source. ``compiled(source, filename, mode)`` is ``compile(source,
filename, mode)``, with the code object kept by ``marshal`` (as Python keeps a module's .pyc) in
``code/`` of the triage cache folder, named after a SHA-256 of the source, the file name, the mode and
the Python version: another source is another file, never a stale one. Like the compiled templates
(templating.py) the folder is used only when it belongs to this user and no one else may write
to it, since the code read from it is run; ``TRIAGE_NO_RULES_CACHE=1`` turns it off. At most
``KEEP`` files are kept. A file that cannot be read or written is ignored: the source is compiled.
"""
from __future__ import annotations

import marshal
import os
import sys

from . import cachedir

KEEP = 2048


def compiled(source: str, filename: str, mode: str = "exec"):
    """``compile(source, filename, mode)``, read back from the code cache when it is there."""
    folder = _folder()
    if folder is None:
        return compile(source, filename, mode)
    digest = cachedir.sha256(f"{sys.version}\0{mode}\0{filename}\0{source}".encode())
    path = os.path.join(folder, f"{digest.hexdigest()[:40]}.code")
    try:
        with open(path, "rb") as handle:
            code = marshal.loads(handle.read())
        if code.co_filename == filename:
            return code
    except (OSError, EOFError, ValueError, TypeError, AttributeError):
        pass
    code = compile(source, filename, mode)
    _write(folder, path, code)
    return code


def generated_function(name: str, argument: str, lines: list, constants: list):
    """A function ``name(argument)`` made of `lines` (statements, one level of indentation), with
    `constants` as _k0, _k1... (values of the rules never go into the source as text): how the
    atom vector, the engine key, the validation and the cross-check of all the rules are each one
    call instead of one Python call per test."""
    source = f"def {name}({argument}):\n" + "".join(f"    {line}\n" for line in lines)
    namespace = {f"_k{n}": value for n, value in enumerate(constants)}
    exec(compiled(source, f"<{name}>"), namespace)  # noqa: S102 (source made by triage)
    return namespace[name]


def constant_pool():
    """(constants, const): ``const(value)`` appends the value and returns its name, _k0, _k1..."""
    constants: list = []

    def const(value) -> str:
        constants.append(value)
        return f"_k{len(constants) - 1}"
    return constants, const


_CHECKED: dict = {}  # folder -> whether it is safe to use, checked once per process


def _folder() -> str | None:
    if not cachedir.enabled():
        return None
    folder = os.path.join(cachedir.cache_folder(), "code")
    safe = _CHECKED.get(folder)
    if safe is None:
        safe = _CHECKED[folder] = cachedir.private_folder(folder)
    return folder if safe else None


def _write(folder: str, path: str, code) -> None:
    try:
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(marshal.dumps(code))
        os.replace(temporary, path)
        names = os.listdir(folder)
        if len(names) > KEEP:
            old = sorted((os.path.join(folder, name) for name in names), key=os.path.getmtime)
            for stale in old[:-KEEP]:
                os.unlink(stale)
    except (OSError, ValueError):
        pass  # an odd file system: compiled again next time
