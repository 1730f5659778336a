"""`Value`: the frozen record the values of the fast-starting commands are made of (`tag parse`, `promote`).

A subclass is written as a frozen dataclass is, and behaves as one: its fields are its annotations, in
order (`ClassVar`s excepted), with defaults as class attributes or `field(default=..., repr=False)` for a
field its repr must not show (a secret, a body); it is built by position or keyword, compared and hashed
field by field, shown as `Name(field=value, ...)`, never changed afterwards, copied and pickled by its
fields. Type checkers read it as a frozen dataclass (`dataclass_transform`) and check its constructor.

It exists because `dataclasses` costs: its import loads `inspect` (and `ast`, `dis`, `tokenize`), and each
class gets generated and compiled methods, about 0.35 ms a class where a `Value` subclass takes 0.01 ms.
The commands every workflow step starts with would spend more on that than on their own work.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads any name so spelt as True)
if TYPE_CHECKING:
    from typing import Any, ClassVar, NoReturn, dataclass_transform
else:

    def dataclass_transform(**kwargs):
        """typing's marker for type checkers, which does nothing at run time: `tag parse` never imports typing."""
        return lambda cls: cls


class _Missing:
    """The default of a field that has none."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class _Field:
    __slots__ = ("default", "repr")

    def __init__(self, default: object, repr: bool) -> None:
        self.default, self.repr = default, repr


def field(*, default: Any = MISSING, repr: bool = True) -> Any:
    """A field's default, and whether its repr shows it, as `dataclasses.field` says them."""
    return _Field(default, repr)


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
class Value:
    """Base of a frozen record whose fields are its annotations."""

    # Worked out once per class, by __init_subclass__: its fields in order (a base's first), the defaults
    # of those that have one, and those its repr shows.
    _value_fields: ClassVar[tuple[str, ...]] = ()
    _value_defaults: ClassVar[dict[str, Any]] = {}
    _value_shown: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Under `from __future__ import annotations` every annotation is its source text.
        annotations = cls.__dict__.get("__annotations__", {})  # noqa: RUF063 (not inspect: see above)
        own = [name for name, kind in annotations.items() if not str(kind).startswith(("ClassVar", "typing.ClassVar"))]
        defaults, hidden = dict(cls._value_defaults), set(cls._value_fields) - set(cls._value_shown)
        for name in own:
            default = cls.__dict__.get(name, MISSING)
            if isinstance(default, _Field):
                if not default.repr:
                    hidden.add(name)
                default = default.default
                if default is MISSING:
                    delattr(cls, name)
                else:
                    setattr(cls, name, default)  # as a dataclass keeps it: the class attribute is the default
            if default is not MISSING:
                defaults[name] = default
        cls._value_fields = (*cls._value_fields, *(name for name in own if name not in cls._value_fields))
        cls._value_defaults = defaults
        cls._value_shown = tuple(name for name in cls._value_fields if name not in hidden)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = self._value_fields
        if len(args) == len(names) and not kwargs:  # the common call, every field by position
            self.__dict__.update(zip(names, args, strict=True))  # not through __setattr__, which refuses any change
            return
        given = dict(zip(names, args, strict=False))
        if len(args) > len(names) or any(name not in names or name in given for name in kwargs):
            raise TypeError(
                f"{self.__class__.__name__}() takes the fields {', '.join(names)}: "
                "an argument is one too many, unknown or given twice"
            )
        values = {**self._value_defaults, **given, **kwargs}
        if len(values) < len(names):
            missing = ", ".join(name for name in names if name not in values)
            raise TypeError(f"{self.__class__.__name__}() is missing the field(s) {missing}")
        self.__dict__.update(values)

    def _fields(self) -> tuple[Any, ...]:
        return tuple(map(self.__dict__.__getitem__, self._value_fields))

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Value)
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._value_shown)
        return f"{self.__class__.__qualname__}({shown})"

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[type[Value], tuple[Any, ...]]:
        return self.__class__, self._fields()
