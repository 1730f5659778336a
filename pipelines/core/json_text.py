"""JSON that comes from outside (a registry, an index, GitHub, the Kubernetes API): one parser whose every
failure is a ValueError, so that callers catch one thing and never a RecursionError from deep nesting."""

from __future__ import annotations

import json
from typing import Any


def load_json(data: bytes | str) -> Any:
    """`json.loads`, with ValueError for every way a document can fail: bad JSON, not UTF-8, nested too deep."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("JSON nested deeper than this parser reads") from None
