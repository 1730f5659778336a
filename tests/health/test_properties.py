"""Property test of the Kubernetes edge (issue 12): whatever the API server answers, the gate gets an
Application or one of our errors.

A real loopback server answers the gate's GET with an arbitrary answer (bytes, JSON of any shape,
nested JSON, odd statuses, redirects, Retry-After of any length); `Cluster.get_application` returns
an Application object or raises an InputError or CheckFailed (exit 2 or 1 in the CLI), never
anything else, and the bearer token never appears in the error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from pipelines.core.errors import PipelineError
from pipelines.edges.retry import Deadline, Retrier, RetryPolicy
from pipelines.health.kube.cluster import Cluster, open_cluster
from tests.support.answers import Answer, AnswerServer, answers

TOKEN = "kube-s3cret-token-0123"
FAST = RetryPolicy(max_time=2, max_attempts=2, base_delay=0.001, max_delay=0.01)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AnswerServer, Path]]:
    server = AnswerServer().start()
    kubeconfig = tmp_path_factory.mktemp("kube") / "config"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "fuzz",
                "clusters": [{"name": "fuzz", "cluster": {"server": server.url}}],
                "users": [{"name": "fuzz", "user": {"token": TOKEN}}],
                "contexts": [{"name": "fuzz", "context": {"cluster": "fuzz", "user": "fuzz"}}],
            }
        )
    )
    yield server, kubeconfig
    server.stop()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=answers(keys=("kind", "status", "message", "code", "metadata", "spec")))
def test_any_api_answer_is_an_application_or_our_error(cluster: tuple[AnswerServer, Path], answer: Answer) -> None:
    server, kubeconfig = cluster
    server.answer = answer
    gate: Cluster
    with open_cluster(kubeconfig, None, Retrier(FAST, Deadline(FAST.max_time), sleep=lambda s: None)) as gate:
        try:
            application = gate.get_application("argocd", "percolate-api")
        except PipelineError as error:
            assert TOKEN not in str(error)
            return
    assert isinstance(application, dict) and application.get("kind") == "Application"
