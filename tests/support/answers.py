"""Arbitrary answers from a real loopback server, for the property tests of every client (issue 12).

`AnswerServer` (the kit's recording server) answers every request with the one `Answer` a test sets
(status, headers, body) and records what was asked; `answers()` is the hypothesis strategy of such answers:
arbitrary bytes, JSON documents of every shape (nested deeper than any parser goes too), odd statuses, redirects,
Retry-After values of any length, challenges and digests that lie.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from hypothesis import strategies as st

from kit.loopback import RecordingServer, reply


@dataclass(frozen=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


class AnswerServer(RecordingServer):
    """The kit's recording server answering every request with the one `answer` a test sets."""

    def __init__(self, answer: Answer = Answer(200, (), b"")) -> None:
        self.answer = answer
        super().__init__(self._send)

    def _send(self, handler: BaseHTTPRequestHandler) -> None:
        reply(handler, self.answer.status, self.answer.body, self.answer.headers)


_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
documents = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


def _with_keys(keys: tuple[str, ...]) -> st.SearchStrategy[Any]:
    """Objects that have the keys a client looks for, holding values of any shape."""
    return st.fixed_dictionaries({}, optional={key: documents for key in keys})


def bodies(keys: tuple[str, ...] = ()) -> st.SearchStrategy[bytes]:
    nested = st.integers(min_value=1_000, max_value=200_000).map(lambda depth: b"[" * depth + b"]" * depth)
    return st.one_of(
        st.binary(max_size=200),
        documents.map(lambda document: json.dumps(document).encode()),
        _with_keys(keys).map(lambda document: json.dumps(document).encode()),
        st.lists(_with_keys(keys), max_size=3).map(lambda document: json.dumps(document).encode()),
        nested,
    )


_header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
_headers = st.lists(
    st.one_of(
        st.tuples(
            st.just("Content-Type"),
            st.sampled_from(
                [
                    "application/json",
                    "text/html",
                    "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.oci.image.index.v1+json",
                    "application/vnd.pypi.simple.v1+json",
                    "application/vnd.pypi.simple.v1+html",
                ]
            ),
        ),
        st.tuples(st.just("Retry-After"), st.one_of(_header_text, st.integers(0, 10**400).map(str))),
        st.tuples(st.just("Location"), st.sampled_from(["http://192.0.2.10/x", "/elsewhere", "https://[::1", ""])),
        st.tuples(st.just("WWW-Authenticate"), _header_text.map(lambda text: f"Bearer {text}")),
        st.tuples(st.just("Docker-Content-Digest"), st.one_of(_header_text, st.just("sha256:" + "0" * 64))),
        st.tuples(st.just("Link"), _header_text),
    ),
    max_size=3,
).map(tuple)


def answers(keys: tuple[str, ...] = ()) -> st.SearchStrategy[Answer]:
    """Any answer a broken or hostile server could send; `keys` are the JSON fields the client reads."""
    statuses = st.sampled_from([200, 200, 200, 201, 204, 301, 307, 400, 401, 403, 404, 418, 429, 500, 503])
    return st.builds(Answer, statuses, _headers, bodies(keys))
