"""Content digests, the one spelling every artifact is addressed by: `sha256:` and 64 lower-case hex digits."""

from __future__ import annotations

import re

DIGEST_FORM = "sha256: followed by 64 lower-case hex digits"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def sha256_digest(data: bytes) -> str:
    # Imported on first use: its OpenSSL binding takes 1-2 ms to load, and what a command does before its first
    # request (promote's tag list) hashes nothing.
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_digest(text: str) -> bool:
    return bool(_DIGEST.fullmatch(text))
