"""The health rule on Application objects of Argo CD's documented shape: examples, then properties over every status."""

from __future__ import annotations

import copy
import itertools

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


# Every combination of statuses, digest placements and operation phases (4 x 7 x 6 x 16 = 2,688), each checked
# against the verdict written out below: rows are the sync status, columns the health status in HEALTH's order
# (None, Healthy, Progressing, Degraded, Suspended, Missing, Unknown); H healthy, F failed, W waiting.
VERDICTS = {
    # The Application compares or runs the new digest, and no sync operation is running or failed.
    "about the digest": """
        None       W W W F W W W
        Synced     W H W F W W W
        OutOfSync  W W W F W W W
        Unknown    W W W F W W W
    """,
    # The same while a sync operation is still Running or Terminating: healthy must wait for it.
    "about the digest, operation running": """
        None       W W W F W W W
        Synced     W W W F W W W
        OutOfSync  W W W F W W W
        Unknown    W W W F W W W
    """,
    # A sync operation Failed or Error'd, and it is about the digest (compared, running or the sync's own source).
    "operation failed": """
        None       F F F F F F F
        Synced     F F F F F F F
        OutOfSync  F F F F F F F
        Unknown    F F F F F F F
    """,
    # Nothing about the new digest: the Application still shows the old one, whatever its state.
    "not about the digest": """
        None       W W W W W W W
        Synced     W W W W W W W
        OutOfSync  W W W W W W W
        Unknown    W W W W W W W
    """,
}
LETTERS = {"H": State.HEALTHY, "F": State.FAILED, "W": State.WAITING}


def written_verdict(table: str, sync: str | None, health: str | None) -> State:
    rows = {line.split()[0]: line.split()[1:] for line in VERDICTS[table].strip().splitlines()}
    return LETTERS[rows[str(sync)][HEALTH.index(health)]]


def which_table(phase: str | None, where: dict[str, bool]) -> str:
    about = where["compared"] or where["running"]
    if phase in {"Failed", "Error"} and (about or where["synced"]):
        return "operation failed"
    if not about:
        return "not about the digest"
    return "about the digest, operation running" if phase in {"Running", "Terminating"} else "about the digest"


COMBINATIONS = [
    (sync, health, phase, dict(zip(("pinned", "compared", "running", "synced"), flags, strict=True)))
    for sync, health, phase, flags in itertools.product(
        SYNC, HEALTH, PHASES, itertools.product((False, True), repeat=4)
    )
]


def test_the_verdict_of_every_status_combination_is_the_one_written_out():
    new, old = "sha256:" + "1a" * 32, "sha256:" + "0f" * 32
    assert len(COMBINATIONS) == 2688
    for sync, health, phase, where in COMBINATIONS:
        table = which_table(phase, where)
        expected = written_verdict(table, sync, health)
        verdict = judge(_build(sync, health, phase, where, new, old), new)
        case = (sync, health, phase, where)
        assert verdict.state is expected, case
        assert verdict.final == (expected is not State.WAITING), case
        assert (verdict.failure is Failure.SYNC_FAILED) == (table == "operation failed"), case
        assert (verdict.sync, verdict.health, verdict.operation_phase) == (sync, health, phase), case
        assert verdict.pinned == where["pinned"], case
        assert verdict.reason, case


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
