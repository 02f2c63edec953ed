"""Immutable records: what ``@dataclass(frozen=True)`` gives the rulebook's classes, written once.

A frozen dataclass writes the source of its ``__init__``, ``__repr__``, ``__eq__``, ``__hash__``,
``__setattr__`` and ``__delattr__`` and compiles it each time its module is imported: about 0.7
ms a class on the development machine when idle, over 2 ms when busy. The rulebook, its
questionnaire, the condition grammar and the assessment are 25 such classes, read back from the
rulebook cache by every `triage` command: 15 to 40 ms of a `triage assess` whose whole budget is
six times `python -c pass` (about 90 ms). A ``Record`` subclass names its fields once
(``_fields``, in the order of its ``__init__``'s arguments) and sets them in its own
``__init__``; this base gives it, from those names, exactly what the dataclass gave:

* ``==`` between two records of the same class compares their fields in order (``NotImplemented``
  for anything else), and ``hash`` hashes the tuple of the fields in ``_hashed`` (default: all;
  the dataclasses' ``field(hash=False)`` left some out);
* ``repr`` is ``Name(field=value, ...)``, every field;
* assigning or deleting a field raises ``dataclasses.FrozenInstanceError``;
* ``copy`` and ``pickle`` work as for the dataclass: the instance's ``__dict__`` is saved and put
  back as it was, without calling ``__init__`` or ``__setattr__`` (no ``__slots__``: that is what
  keeps reading the cached rulebook back as fast as before, 1.1 ms);
* ``replace(**changes)`` is ``dataclasses.replace``.

tests/test_startup.py compares every record class with a dataclass of the same fields.
"""
from __future__ import annotations

# a default meaning "a new empty list or dict for each record" (dataclasses' default_factory)
NEW = type("New", (), {"__repr__": lambda self: "NEW", "__slots__": ()})()

set_field = object.__setattr__  # how an __init__ sets its fields on a frozen record


class Record:
    """Base of an immutable record; see the module's docstring."""

    __slots__ = ()  # subclasses have a __dict__, as the dataclasses did
    _fields: tuple = ()
    _hashed: tuple | None = None  # None: every field

    def _values(self) -> tuple:
        return tuple([getattr(self, name) for name in self._fields])

    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented

    def __hash__(self):
        names = self._fields if self._hashed is None else self._hashed
        return hash(tuple([getattr(self, name) for name in names]))

    def __repr__(self):
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{self.__class__.__qualname__}({fields})"

    def __setattr__(self, name, value):
        from dataclasses import FrozenInstanceError  # only on this mistake: not at start-up

        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name):
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def replace(self, **changes):
        """A copy with some fields changed (``dataclasses.replace``)."""
        for name in changes:
            if name not in self._fields:
                raise TypeError(f"{self.__class__.__qualname__} has no field {name!r}")
        return self.__class__(**{name: changes.get(name, getattr(self, name))
                                 for name in self._fields})


def fill(record: Record, *values) -> None:
    """Set `record`'s fields, in the order of ``_fields``, from an ``__init__``."""
    for name, value in zip(record._fields, values):
        set_field(record, name, value)
