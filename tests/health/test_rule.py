"""The health rule on Application objects of Argo CD's documented shape: examples, then properties over every status."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.core.errors import InputError
from pipelines.health.verdict import Failure, State, judge, parse_digest

SYNC = [None, "Synced", "OutOfSync", "Unknown"]
HEALTH = [None, "Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"]
PHASES = [None, "Running", "Terminating", "Failed", "Error", "Succeeded"]


def test_synced_healthy_and_running_the_digest_is_healthy(application, names):
    verdict = judge(application(compared=names.new, running=(names.new,)), names.new)
    assert verdict.state is State.HEALTHY and verdict.final
    assert verdict.running_images == (f"{names.repository}@{names.new}",)
    assert "running" in verdict.reason


def test_compared_against_a_source_pinning_the_digest_is_enough_without_an_images_summary(application, names):
    verdict = judge(application(compared=names.new, running=()), names.new)
    assert verdict.state is State.HEALTHY
    assert "compared" in verdict.reason


def test_running_the_digest_is_enough_when_the_source_pins_it_elsewhere(application, names):
    # e.g. the digest lives in a kustomization file in git, so no Application field spells it.
    verdict = judge(application(pinned=None, compared=None, running=(names.old, names.new)), names.new)
    assert verdict.state is State.HEALTHY


def test_healthy_with_another_digest_keeps_waiting(application, names):
    verdict = judge(application(pinned=names.old, compared=names.old, running=(names.old,)), names.new)
    assert verdict.state is State.WAITING and not verdict.final
    assert f"does not pin {names.new}" in verdict.reason


def test_a_spec_pinning_the_digest_is_not_yet_evidence(application, names):
    # pulumi up changed the spec, but the status still describes the old revision.
    verdict = judge(application(pinned=names.new, compared=names.old, running=(names.old,)), names.new)
    assert verdict.state is State.WAITING
    assert verdict.pinned
    assert "has not yet compared or deployed" in verdict.reason


def test_degraded_on_the_new_digest_fails_with_health_message_and_resources(application, names):
    app = application(
        health="Degraded",
        compared=names.new,
        running=(names.new,),
        health_message="one resource is degraded",
        resources=(
            ("Deployment", "percolate-api", "Degraded", 'Deployment "percolate-api" exceeded its progress deadline'),
            ("Service", "percolate-api", "Healthy", None),
        ),
        conditions=(("SyncError", "Failed sync attempt: one or more objects failed to apply"),),
    )
    verdict = judge(app, names.new)
    assert verdict.state is State.FAILED and verdict.failure is Failure.DEGRADED
    assert "one resource is degraded" in verdict.reason and "exceeded its progress deadline" in verdict.reason
    assert [r.kind for r in verdict.unhealthy_resources] == ["Deployment"]
    assert [c.type for c in verdict.conditions] == ["SyncError"]


def test_degraded_of_the_previous_revision_keeps_waiting(application, names):
    verdict = judge(
        application(health="Degraded", pinned=names.new, compared=names.old, running=(names.old,)), names.new
    )
    assert verdict.state is State.WAITING
    assert "previous revision" in verdict.reason


@pytest.mark.parametrize("phase", ["Failed", "Error"])
def test_a_failed_sync_of_the_new_digest_fails(application, names, phase):
    app = application(
        sync="OutOfSync",
        health="Healthy",
        compared=names.old,
        running=(names.old,),
        phase=phase,
        synced_digest=names.new,
        operation_message="one or more objects failed to apply",
    )
    verdict = judge(app, names.new)
    assert verdict.state is State.FAILED and verdict.failure is Failure.SYNC_FAILED
    assert verdict.reason == f"sync operation {phase}: one or more objects failed to apply"


def test_a_failed_sync_of_an_older_revision_keeps_waiting(application, names):
    app = application(
        sync="OutOfSync", compared=names.old, running=(names.old,), phase="Failed", synced_digest=names.old
    )
    assert judge(app, names.new).state is State.WAITING


@pytest.mark.parametrize("phase", ["Running", "Terminating"])
def test_a_sync_still_running_keeps_waiting_even_when_synced_and_healthy(application, names, phase):
    verdict = judge(application(compared=names.new, running=(names.new,), phase=phase), names.new)
    assert verdict.state is State.WAITING
    assert verdict.reason == f"a sync operation is {phase}"


def test_multi_source_applications_are_read_through_sources(application, names):
    app = application(pinned=None, compared=None, running=())
    helm = {
        "repoURL": "https://charts.example.invalid",
        "chart": "percolate",
        "helm": {"parameters": [{"name": "image.digest", "value": names.new}]},
    }
    app["spec"]["sources"] = [helm]
    app["status"]["sync"]["comparedTo"]["sources"] = [copy.deepcopy(helm)]
    verdict = judge(app, names.new)
    assert verdict.state is State.HEALTHY and verdict.pinned


def test_a_longer_hex_string_is_not_the_digest(application, names):
    app = application(pinned=None, compared=None, running=())
    app["status"]["summary"]["images"] = [f"{names.repository}@{names.new}00"]
    app["status"]["sync"]["comparedTo"]["source"]["kustomize"]["images"] = [f"{names.repository}@{names.new}ff"]
    assert judge(app, names.new).state is State.WAITING


def test_an_application_without_status_waits(names):
    verdict = judge({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "x"}}, names.new)
    assert verdict.state is State.WAITING
    assert (verdict.sync, verdict.health, verdict.conditions) == (None, None, ())


def test_to_dict_is_json_shaped(application, names):
    app = application(health="Degraded", compared=names.new, conditions=(("ComparisonError", "rpc error"),))
    data = judge(app, names.new).to_dict()
    assert data["state"] == "failed" and data["failure"] == "degraded"
    assert data["conditions"] == [
        {"type": "ComparisonError", "message": "rpc error", "lastTransitionTime": "2025-10-25T14:31:00Z"}
    ]


# Properties: every combination of statuses, digest placements and operation phases.

placements = st.fixed_dictionaries(
    {
        "pinned": st.booleans(),
        "compared": st.booleans(),
        "running": st.booleans(),
        "synced": st.booleans(),
    }
)


@settings(max_examples=400)
@given(sync=st.sampled_from(SYNC), health=st.sampled_from(HEALTH), phase=st.sampled_from(PHASES), where=placements)
def test_the_verdict_follows_the_rule_for_every_status_combination(sync, health, phase, where):
    new, old = "sha256:" + "1a" * 32, "sha256:" + "0f" * 32
    app = _build(sync, health, phase, where, new, old)
    verdict = judge(app, new)
    about_new = where["compared"] or where["running"]
    failed_sync = phase in {"Failed", "Error"} and (about_new or where["synced"])
    if failed_sync or (health == "Degraded" and about_new):
        expected = State.FAILED
    elif about_new and sync == "Synced" and health == "Healthy" and phase not in {"Running", "Terminating"}:
        expected = State.HEALTHY
    else:
        expected = State.WAITING
    assert verdict.state is expected
    assert verdict.final == (expected is not State.WAITING)
    assert (verdict.failure is Failure.SYNC_FAILED) == failed_sync
    assert (verdict.sync, verdict.health, verdict.operation_phase) == (sync, health, phase)
    assert verdict.pinned == where["pinned"]
    assert verdict.reason


def _build(sync, health, phase, where, new, old):
    pick = lambda flag: new if flag else old  # noqa: E731

    def source(digest):
        return {
            "repoURL": "https://example.invalid/repo",
            "kustomize": {"images": [f"ghcr.io/x/percolate@{digest}"]},
        }

    status = {
        "sync": {"status": sync, "comparedTo": {"source": source(pick(where["compared"]))}},
        "health": {"status": health},
        "summary": {"images": [f"ghcr.io/x/percolate@{pick(where['running'])}"]},
    }
    if phase is not None:
        status["operationState"] = {"phase": phase, "syncResult": {"source": source(pick(where["synced"]))}}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "spec": {"source": source(pick(where["pinned"]))},
        "status": status,
    }


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=12)
    | st.sampled_from(["Synced", "Healthy", "Degraded", "Failed", "Running", "sha256:" + "1a" * 32]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "spec",
                    "status",
                    "sync",
                    "health",
                    "status",
                    "summary",
                    "images",
                    "source",
                    "sources",
                    "comparedTo",
                    "operationState",
                    "phase",
                    "conditions",
                    "resources",
                    "type",
                    "message",
                    "kind",
                ]
            )
            | st.text(max_size=6),
            children,
            max_size=5,
        )
    ),
    max_leaves=30,
)


# Applications whose every status field holds arbitrary JSON, so the rule's deep reads get exercised too.
status_fields = st.fixed_dictionaries(
    {},
    optional={key: json_values for key in ("sync", "health", "summary", "operationState", "conditions", "resources")},
)
skeleton_applications = st.builds(
    lambda spec, status: {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "spec": spec, "status": status},
    json_values,
    status_fields,
)


@settings(max_examples=300)
@given(
    document=st.dictionaries(st.sampled_from(["apiVersion", "kind", "metadata", "spec", "status"]), json_values)
    | skeleton_applications
)
def test_any_json_object_not_mentioning_the_digest_gets_a_waiting_verdict(document):
    digest = "sha256:" + "2b" * 32  # never produced by the strategy
    verdict = judge(document, digest)
    assert verdict.state is State.WAITING
    assert not verdict.pinned


digests = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64).map(lambda hex_: "sha256:" + hex_)


@given(digests)
def test_well_formed_digests_parse_to_themselves(digest):
    assert parse_digest(digest) == digest


@given(digest=digests, mutation=st.sampled_from(["upper", "short", "long", "algorithm", "space", "empty-hex"]))
def test_malformed_digests_are_refused(digest, mutation):
    bad = {
        "upper": "sha256:" + digest[7:].upper() if any(c in "abcdef" for c in digest[7:]) else "sha256:" + "A" * 64,
        "short": digest[:-1],
        "long": digest + "0",
        "algorithm": "sha512:" + digest[7:],
        "space": digest + " ",
        "empty-hex": "sha256:",
    }[mutation]
    with pytest.raises(InputError, match="malformed digest"):
        parse_digest(bad)
