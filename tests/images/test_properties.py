"""Property test of the registry client (issue 12): whatever a registry answers, promote ends in one of our errors.

A real loopback server answers every request of an in-process promotion with an arbitrary answer
(bytes, JSON of any shape, nested JSON, odd statuses, redirects, Retry-After of any length, lying
digests). The promotion raises an InputError or a CheckFailed (exit 2 or 1 in the CLI), never
anything else; it writes nothing; and no credential appears in the error.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings

from pipelines.core.catalog import get_project
from pipelines.core.errors import PipelineError
from pipelines.core.versions import parse_version
from pipelines.edges.retry import RetryPolicy
from pipelines.images.registry.client import RegistryClient
from pipelines.images.registry.credentials import Credentials
from pipelines.images.registry.location import parse_registry
from pipelines.images.release import promote_release
from tests.support.answers import Answer, AnswerServer, answers

SECRET = "s3cret-Pa55word"
FAST = RetryPolicy(max_time=2, max_attempts=2, base_delay=0.001, max_delay=0.01)


@pytest.fixture(scope="module")
def server() -> Iterator[AnswerServer]:
    started = AnswerServer().start()
    yield started
    started.stop()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=answers(keys=("tags", "errors", "token", "access_token", "expires_in", "schemaVersion", "manifests")))
def test_any_registry_answer_ends_in_our_error_and_writes_nothing(server: AnswerServer, answer: Answer) -> None:
    server.answer, server.seen = answer, []
    credentials = Credentials("ci-bot", SECRET, "REGISTRY_USERNAME/REGISTRY_PASSWORD")
    location = parse_registry(f"{server.host}/ns")
    client = RegistryClient(location, credentials, push=True, policy=FAST, environ={})
    with client, pytest.raises(PipelineError) as raised:
        promote_release(
            get_project("percolate"),
            parse_version("0.1.0"),
            client,
            release_tag="percolate-v0.1.0",
            release_commit=None,
            in_checkout=False,
        )
    assert SECRET not in str(raised.value)
    assert "PUT" not in [seen.method for seen in server.seen]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=answers(keys=("tags", "errors", "name")))
def test_any_answer_to_a_tail_listing_is_in_order_none_or_our_error(server: AnswerServer, answer: Answer) -> None:
    """The tail of the tag list (`last`): whatever the registry answers, the client returns tags in lexical order
    after the tag asked for, None (the registry does not list so), or raises one of our errors."""
    server.answer, server.seen = answer, []
    after = "2025.10.24.1200"
    with RegistryClient(parse_registry(f"{server.host}/ns"), policy=FAST, environ={}) as client:
        try:
            tail = client.list_tags_after("ns/percolate", after)
        except PipelineError:
            return
    assert tail is None or all(earlier < tag for earlier, tag in zip((after, *tail.tags), tail.tags, strict=False))
