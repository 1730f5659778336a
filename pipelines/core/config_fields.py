"""Stack config checked as it is read: every error names the setting's full key and a fix.

`config_error` is the one shape of such an error (`stack config KEY: problem`, the fix as its hint), used by
the canary section (`deploy/canary`) and by `infra/` (its field reader and its argoRollouts section);
`known_mapping` is the one check of a section's type and keys, for both canary sections.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.core.errors import InputError


def config_error(path: str, problem: str, fix: str) -> InputError:
    """The error of the setting at `path`: bad input (exit 2), naming the setting and the fix."""
    return InputError(f"stack config {path}: {problem}", hint=fix)


def known_mapping(data: Any, path: str, fields: tuple[str, ...], example: str) -> Mapping[str, Any]:
    """`data` when it is a mapping of known `fields` only; else the error naming the first unknown key."""
    if not isinstance(data, Mapping):
        raise config_error(path, f"expected a mapping, got {data!r}", f"write it as in docs/canary.md, e.g. {example}")
    unknown = sorted(str(key) for key in data if key not in fields)
    if unknown:
        raise config_error(f"{path}.{unknown[0]}", "unknown key", f"the keys of {path} are: {', '.join(fields)}")
    return data
