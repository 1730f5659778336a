"""The stack config read field by field: each value checked as it is read, every error naming the field's full
path (`percolate-platform:argocd.retry.limit`) and a fix."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from pipelines.core.config_fields import config_error

_MISSING = object()


class _Object:
    """A config object read field by field, every error naming the field's full path and a fix."""

    def __init__(self, data: Any, path: str, fields: tuple[str, ...], example: str, separator: str = ".") -> None:
        if not isinstance(data, Mapping):
            raise config_error(path, f"expected an object, got {data!r}", f"set it as in docs/infra.md, e.g. {example}")
        self.data = data
        self.path = path
        self.separator = separator
        unknown = sorted(set(map(str, data)) - set(fields))
        if unknown and separator == ":":
            raise config_error(self.where(unknown[0]), "unknown key", f"the keys of {path} are: {', '.join(fields)}")
        if unknown:
            raise config_error(path, f"unknown field(s) {', '.join(unknown)}", f"the fields are {', '.join(fields)}")

    def where(self, field: str) -> str:
        return f"{self.path}{self.separator}{field}"

    def raw(self, field: str, default: Any, example: str) -> Any:
        value = self.data.get(field)
        if value is not None:
            return value
        if default is not _MISSING:
            return default
        setting = self.where(field).split(":", 1)[-1]
        fix = (
            f"set it as in docs/infra.md, e.g. {example}"
            if example.startswith(("{", "["))
            else f"pulumi config set --path '{setting}' {example}"
        )
        raise config_error(self.where(field), "missing", fix)

    def child(self, field: str, fields: tuple[str, ...], example: str, default: Any = _MISSING) -> _Object:
        return _Object(self.raw(field, default, example), self.where(field), fields, example)

    def string(
        self, field: str, *, example: str, default: Any = _MISSING, pattern: re.Pattern[str] | None = None
    ) -> str:
        value = self.raw(field, default, example)
        if not isinstance(value, str) or not value.strip() or (pattern is not None and not pattern.fullmatch(value)):
            raise config_error(self.where(field), f"{value!r} is not valid", f"use a value like {example}")
        return value

    def boolean(self, field: str, *, default: bool) -> bool:
        value = self.raw(field, default, "true")
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return bool(value == "true")
        raise config_error(self.where(field), f"{value!r} is not true or false", "set true or false")

    def integer(self, field: str, *, default: int, minimum: int) -> int:
        value = self.raw(field, default, str(default))
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise config_error(
                self.where(field), f"{value!r} is not a whole number of at least {minimum}", f"e.g. {default}"
            )
        return value

    def strings(
        self, field: str, *, example: str, pattern: re.Pattern[str], default: Any = _MISSING
    ) -> tuple[str, ...]:
        value = self.raw(field, default, f"[{example}]")
        if not isinstance(value, list):
            raise config_error(self.where(field), f"expected a list, got {value!r}", f"e.g. [{example}]")
        for index, item in enumerate(value):
            if not isinstance(item, str) or not pattern.fullmatch(item):
                raise config_error(
                    f"{self.where(field)}[{index}]", f"{item!r} is not valid", f"use a value like {example}"
                )
        return tuple(dict.fromkeys(value))


def _decode(key: str, raw: Any) -> Any:
    """A config value as Pulumi hands it over: structured values arrive as JSON text."""
    if isinstance(raw, str) and raw[:1] in "[{":
        try:
            return json.loads(raw)
        except json.JSONDecodeError as error:
            fix = "set it again with pulumi config set --path"
            raise config_error(key, f"is not valid structured config: {error}", fix) from None
    return raw
