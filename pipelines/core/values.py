"""`Value`: the frozen record the values `tag parse` loads are made of (the catalog's, a tag, a version).

It behaves as a frozen dataclass does: built by its own typed `__init__`, compared and hashed field by field
(its `__slots__`, in order), shown as `Name(field=value, ...)`, never changed afterwards, copied and pickled
by its fields. Those modules do not use `dataclasses`, whose import (it loads `inspect`, and `inspect` loads
`ast`, `dis` and `tokenize`) and per-class code generation were half of the command's start; everything
else in the package uses frozen dataclasses.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads any name so spelt as True)
if TYPE_CHECKING:
    from typing import Any, NoReturn


class Value:
    """Base of a frozen record whose fields are its `__slots__`; a subclass's `__init__` calls `_set`."""

    __slots__: tuple[str, ...] = ()

    def _set(self, *values: object) -> None:
        """Give the fields their values, in the order of `__slots__` (once, from `__init__`)."""
        for name, value in zip(self.__slots__, values, strict=True):
            object.__setattr__(self, name, value)

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Value)
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{self.__class__.__qualname__}({shown})"

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[type[Value], tuple[Any, ...]]:
        return self.__class__, self._fields()
