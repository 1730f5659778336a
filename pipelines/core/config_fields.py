"""Stack config read field by field: each value checked as it is read, every error naming the setting's full key
(`percolate-platform:argocd.retry.limit`) and a fix.

`ConfigObject` is the one reader of a section of the stack config: `infra/` reads its settings with it, and the
canary section (`deploy/canary`) and the argoRollouts section (`infra/canary_settings`) theirs. `config_error` is
the one shape of its errors (`stack config KEY: problem`, the fix as the hint: bad input, exit 2).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pipelines.core.errors import InputError

MISSING: Any = object()  # no default: the setting must be there


def config_error(path: str, problem: str, fix: str) -> InputError:
    """The error of the setting at `path`: bad input (exit 2), naming the setting and the fix."""
    return InputError(f"stack config {path}: {problem}", hint=fix)


class ConfigObject:
    """A mapping of known `fields`, read field by field; `guide` is the page that shows how to write it.

    `separator` joins the path and a field: ":" at the top of the config (`percolate-platform:argocd`), "." below.
    """

    def __init__(
        self, data: Any, path: str, fields: tuple[str, ...], example: str, *, guide: str, separator: str = "."
    ) -> None:
        if not isinstance(data, Mapping):
            raise config_error(path, f"expected a mapping, got {data!r}", f"write it as in {guide}, e.g. {example}")
        self.data: Mapping[str, Any] = data
        self.path, self.guide, self.separator = path, guide, separator
        unknown = sorted(str(key) for key in data if key not in fields)
        if unknown:
            raise config_error(self.where(unknown[0]), "unknown key", f"the keys of {path} are: {', '.join(fields)}")

    def where(self, field: str) -> str:
        """The full key of `field`."""
        return f"{self.path}{self.separator}{field}"

    def raw(self, field: str, default: Any, example: str) -> Any:
        """The value as written (None counts as absent); `default` when absent, or the error naming the fix."""
        value = self.data.get(field)
        if value is not None:
            return value
        if default is not MISSING:
            return default
        setting = self.where(field).split(":", 1)[-1]
        fix = (
            f"set it as in {self.guide}, e.g. {example}"
            if example.startswith(("{", "["))
            else f"pulumi config set --path '{setting}' {example}"
        )
        raise config_error(self.where(field), "missing", fix)

    def child(self, field: str, fields: tuple[str, ...], example: str, default: Any = MISSING) -> ConfigObject:
        return ConfigObject(self.raw(field, default, example), self.where(field), fields, example, guide=self.guide)

    def string(
        self, field: str, *, example: str, default: Any = MISSING, pattern: re.Pattern[str] | None = None
    ) -> str:
        value = self.raw(field, default, example)
        if not isinstance(value, str) or not value.strip() or (pattern is not None and not pattern.fullmatch(value)):
            raise config_error(self.where(field), f"{value!r} is not valid", f"use a value like {example}")
        return value

    def optional_string(self, field: str, *, example: str, pattern: re.Pattern[str] | None = None) -> str | None:
        return self.string(field, example=example, pattern=pattern) if self.data.get(field) is not None else None

    def boolean(self, field: str, *, default: bool) -> bool:
        """true or false (also as the text Pulumi keeps a value set without --type in)."""
        value = self.raw(field, default, "true")
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return bool(value == "true")
        raise config_error(self.where(field), f"{value!r} is not true or false", "set true or false")

    def integer(self, field: str, *, default: int, minimum: int, maximum: int | None = None) -> int:
        value = self.raw(field, default, str(default))
        too_big = maximum is not None and isinstance(value, int) and value > maximum
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum or too_big:
            bounds = f"of at least {minimum}" if maximum is None else f"from {minimum} to {maximum}"
            raise config_error(self.where(field), f"{value!r} is not a whole number {bounds}", f"e.g. {default}")
        return value

    def strings(self, field: str, *, example: str, pattern: re.Pattern[str], default: Any = MISSING) -> tuple[str, ...]:
        """A list of texts each matching `pattern`, duplicates dropped (first kept)."""
        value = self.raw(field, default, f"[{example}]")
        if not isinstance(value, list):
            raise config_error(self.where(field), f"expected a list, got {value!r}", f"e.g. [{example}]")
        for index, item in enumerate(value):
            if not isinstance(item, str) or not pattern.fullmatch(item):
                raise config_error(
                    f"{self.where(field)}[{index}]", f"{item!r} is not valid", f"use a value like {example}"
                )
        return tuple(dict.fromkeys(value))
