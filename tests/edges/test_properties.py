"""Property tests of the GitHub and package index clients (issue 12): any answer ends in one of our errors.

A real loopback server answers every request with an arbitrary answer (bytes, JSON of any shape,
nested JSON, odd statuses, redirects, Retry-After of any length). Each call returns the documented
value or raises an InputError or CheckFailed (exit 2 or 1 in the CLI), never anything else; the
token never appears in an error, and a failed download leaves no file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from pipelines.core.errors import PipelineError
from pipelines.edges.github import GitHub
from pipelines.edges.http import HttpClient, RetryPolicy
from pipelines.wheels.index import IndexFile, PackageIndex
from tests.support.answers import Answer, AnswerServer, answers

TOKEN = "ghp_s3cretToken0123"
FAST = RetryPolicy(max_time=2, max_attempts=2, base_delay=0.001, max_delay=0.01)


# A Retry-After the server asks for is honoured by sleeping; what is tested here is what the clients make of
# the answers, so the waits are not taken (the retry timing has its own tests in test_http.py).
def no_wait(seconds: float) -> None:
    return None


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def server() -> Iterator[AnswerServer]:
    started = AnswerServer().start()
    yield started
    started.stop()


@SETTINGS
@given(answer=answers(keys=("number", "html_url", "message")))
def test_any_github_answer_is_a_pull_request_or_our_error(server: AnswerServer, answer: Answer) -> None:
    server.answer = answer
    with GitHub(server.url, "labs/percolate", TOKEN, http=HttpClient(policy=FAST, environ={}, sleep=no_wait)) as github:
        for call in (
            lambda: github.open_pull("deploy/x", "main"),
            lambda: github.create_pull(branch="deploy/x", base="main", title="t", body="b"),
            lambda: github.update_pull(7, title="t", body="b"),
        ):
            try:
                pull = call()
            except PipelineError as error:
                assert TOKEN not in str(error)
                continue
            assert pull is None or (isinstance(pull, dict) and isinstance(pull["number"], int))


@SETTINGS
@given(answer=answers(keys=("meta", "files", "filename", "url", "hashes", "yanked")))
def test_any_index_answer_is_a_file_list_or_our_error(server: AnswerServer, answer: Answer, tmp_path: Path) -> None:
    server.answer = answer
    index = PackageIndex(f"{server.url}/simple/", HttpClient(policy=FAST, environ={}, sleep=no_wait))
    try:
        files = index.project_files("percolate-rocks")
    except PipelineError:
        files = None
    if files is not None:
        assert all(isinstance(file, IndexFile) and isinstance(file.filename, str) for file in files)
    target = tmp_path / "download" / "x.whl"
    target.parent.mkdir(exist_ok=True)
    try:
        index.download(IndexFile("x.whl", f"{server.url}/files/x.whl", "0" * 64), target)
    except PipelineError:
        assert not target.exists()
    index.close()
