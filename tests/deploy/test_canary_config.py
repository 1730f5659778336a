"""The canary section of the stack config: validation with errors that name key and fix, and what it renders.

What it renders is checked strictly against Argo Rollouts' own CRDs (v1.9.1, copied into
tests/support/crds): the steps against the Rollout's `spec.strategy.canary`, the template
against the AnalysisTemplate CRD.
"""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.core.errors import InputError
from pipelines.deploy.argo_rollouts import analysis_template, rollout_canary, rollout_patch
from pipelines.deploy.canary import (
    CANARY_KEY,
    MAX_CANARY_SECONDS,
    AnalysisStep,
    Pause,
    SetWeight,
    parse_canaries,
    parse_canary,
)
from tests.support.crd_schema import validate

READING = "percolate-reading"


def entry(**changes):
    base = {
        "steps": [
            {"setWeight": 20},
            {"pause": "2m"},
            {"analysis": True},
            {"setWeight": 50},
            {"pause": 300},
            {"analysis": True},
        ],
        "analysis": {"web": {"port": 8080, "path": "/healthz"}, "interval": "30s", "count": 4},
    }
    base.update(changes)
    return base


def test_a_valid_entry_becomes_steps_services_and_an_analysis():
    canary = parse_canary(READING, entry())
    assert canary.steps == (
        SetWeight(20),
        Pause("2m"),
        AnalysisStep(),
        SetWeight(50),
        Pause("300s"),
        AnalysisStep(),
    )
    assert (canary.rollout, canary.canary_service, canary.stable_service) == (
        "percolate-reading",
        "percolate-reading-canary",
        "percolate-reading-stable",
    )
    assert canary.abort_on_inconclusive is True
    assert canary.minimum_seconds == 120 + 90 + 300 + 90  # pauses, and two runs of 4 measurements 30 s apart


def test_the_rollout_fields_and_the_kustomize_patch_match_the_rollout_crd():
    canary = parse_canary(READING, entry())
    fields = rollout_canary(canary)
    validate(fields, "Rollout", "spec", "strategy", "canary")
    assert fields["steps"][0] == {"setWeight": 20}
    assert fields["steps"][1] == {"pause": {"duration": "2m"}}
    assert fields["steps"][2]["analysis"]["templates"] == [{"templateName": "percolate-reading-analysis"}]
    assert fields["steps"][2]["analysis"]["args"] == [
        {"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}}
    ]
    patch = rollout_patch(canary)
    assert patch["target"] == {"group": "argoproj.io", "version": "v1alpha1", "kind": "Rollout", "name": READING}
    operations = json.loads(patch["patch"])
    assert [op["path"] for op in operations] == [
        "/spec/strategy/canary/canaryService",
        "/spec/strategy/canary/stableService",
        "/spec/strategy/canary/steps",
    ]
    assert {op["op"] for op in operations} == {"add"}  # add replaces a member that exists (RFC 6902)
    assert {op["path"].rsplit("/", 1)[1]: op["value"] for op in operations} == fields


def test_the_web_analysis_template_matches_its_crd_and_targets_the_canary_service():
    template = analysis_template(parse_canary(READING, entry()), "reading")
    validate(template, "AnalysisTemplate")
    metric = template["spec"]["metrics"][0]
    assert metric["provider"]["web"]["url"] == "http://percolate-reading-canary.reading.svc.cluster.local:8080/healthz"
    assert (metric["successCondition"], metric["provider"]["web"]["jsonPath"]) == ('result == "ok"', "{$.status}")
    assert (metric["count"], metric["interval"], metric["failureLimit"]) == (4, "30s", 0)
    assert template["metadata"] == {
        "name": "percolate-reading-analysis",
        "namespace": "reading",
        "labels": {"app.kubernetes.io/part-of": "percolate-reading"},
    }
    assert template["spec"]["args"] == [{"name": "canary-hash"}]


def test_a_prometheus_analysis_renders_query_and_conditions():
    prometheus = {
        "address": "http://prometheus.monitoring.svc:9090",
        "query": 'sum(rate(http_requests_total{code!~"5..",rollouts_pod_template_hash="{{args.canary-hash}}"}[1m]))',
        "successCondition": "result[0] >= 0.99",
        "failureCondition": "result[0] < 0.9",
    }
    canary = parse_canary(READING, entry(analysis={"prometheus": prometheus, "inconclusiveLimit": 1}))
    template = analysis_template(canary, "percolate")
    validate(template, "AnalysisTemplate")
    metric = template["spec"]["metrics"][0]
    assert metric["provider"] == {"prometheus": {"address": prometheus["address"], "query": prometheus["query"]}}
    assert (metric["successCondition"], metric["failureCondition"]) == ("result[0] >= 0.99", "result[0] < 0.9")
    assert metric["inconclusiveLimit"] == 1


def test_an_empty_analysis_section_means_the_default_web_metric():
    template = analysis_template(parse_canary(READING, entry(analysis={})), "percolate")
    assert template["spec"]["metrics"][0]["provider"]["web"]["url"].endswith(":8080/healthz")


@pytest.mark.parametrize(
    "spoil",
    [
        lambda fields: fields["steps"][0].update(setweight=20),
        lambda fields: fields["steps"][1]["pause"].update(seconds=5),
        lambda fields: fields.update(canaryServices="x"),
        lambda fields: fields["steps"][2]["analysis"]["templates"][0].update(template="x"),
    ],
)
def test_the_strict_schema_catches_an_invented_field(spoil):
    fields = copy.deepcopy(rollout_canary(parse_canary(READING, entry())))
    spoil(fields)
    with pytest.raises(jsonschema.ValidationError):
        validate(fields, "Rollout", "spec", "strategy", "canary")


@pytest.mark.parametrize(
    ("changes", "key", "words", "fix"),
    [
        ({"steps": [{"setWeight": 50}, {"setWeight": 20}]}, "steps[1].setWeight", "does not rise", "rise"),
        ({"steps": [{"setWeight": 20}, {"setWeight": 20}]}, "steps[1].setWeight", "does not rise", "rise"),
        ({"steps": [{"setWeight": 120}]}, "steps[0].setWeight", "from 1 to 100", "setWeight: 20"),
        ({"steps": [{"setWeight": 20}, {"pause": None}]}, "steps[1].pause", "untimed pause", "duration"),
        ({"steps": [{"setWeight": 20}, {"pause": {}}]}, "steps[1].pause", "cannot promote by hand", "5m"),
        ({"steps": [{"setWeight": 20}, {"pause": "soon"}]}, "steps[1].pause", "not a duration", "30s, 5m, 1h"),
        ({"steps": [{"analysis": True}]}, "steps[0].analysis", "no canary pods", "setWeight step before"),
        (
            {"steps": [{"setWeight": 20}, {"analysis": True}], "analysis": None},
            "steps[1].analysis",
            "needs a template",
            "analysis",
        ),
        ({"steps": [{"setWeight": 20, "pause": "1m"}]}, "steps[0]", "not one step", "setWeight"),
        ({"steps": [{"setCanaryScale": 1}]}, "steps[0].setCanaryScale", "unknown step", "setWeight, pause"),
        ({"steps": []}, "steps", "expected a list", "setWeight"),
        ({"stepz": []}, "stepz", "unknown key", "steps"),
        ({"analysis": {"web": {}, "prometheus": {}}}, "analysis", "both web and prometheus", "keep one"),
        ({"analysis": {"web": {"port": 0}}}, "analysis.web.port", "from 1 to 65535", "8080"),
        ({"analysis": {"prometheus": {"query": "up"}}}, "analysis.prometheus.address", "missing", "prometheus"),
        ({"abortOnInconclusive": "no"}, "abortOnInconclusive", "not true or false", "true or false"),
        ({"steps": [{"setWeight": 10}, {"pause": "1h"}]}, "steps", f"more than {MAX_CANARY_SECONDS}s", "1500s"),
        ({"canaryService": "percolate-reading-stable"}, "canaryService", "stable Service too", "two Services"),
    ],
)
def test_a_bad_entry_names_the_key_and_the_fix(changes, key, words, fix):
    data = entry(**changes)
    if data.get("analysis") is None:
        data.pop("analysis")
    with pytest.raises(InputError) as caught:
        parse_canary(READING, data)
    assert f"{CANARY_KEY}.{READING}.{key}:" in caught.value.message
    assert words in caught.value.message and fix in (caught.value.hint or "")


def test_a_project_whose_manifests_hold_no_rollout_cannot_have_a_canary():
    with pytest.raises(InputError) as caught:
        parse_canaries({"percolate": entry()})
    assert "percolate-platform:canary.percolate:" in caught.value.message
    assert "no Argo Rollouts Rollout" in caught.value.message and "percolate-reading" in caught.value.hint
    with pytest.raises(InputError):
        parse_canaries({"percolate-rocks": entry()})
    assert parse_canaries(None) == {}
    with pytest.raises(InputError, match="expected a mapping of projects"):
        parse_canaries([entry()])


_STEP = st.one_of(
    st.builds(lambda w: {"setWeight": w}, st.integers(-5, 120)),
    st.builds(lambda n, unit: {"pause": f"{n}{unit}"}, st.integers(0, 30), st.sampled_from(["s", "m", "h", "d", ""])),
    st.builds(lambda n: {"pause": n}, st.one_of(st.none(), st.integers(-1, 600), st.just({}))),
    st.builds(lambda v: {"analysis": v}, st.one_of(st.just(True), st.just(False), st.none())),
    st.dictionaries(st.sampled_from(["setWeight", "pause", "bogus"]), st.integers(1, 50), max_size=3),
)


@settings(max_examples=150)
@given(steps=st.lists(_STEP, max_size=8), with_analysis=st.booleans())
def test_any_steps_either_parse_into_a_valid_rollout_or_name_a_key(steps, with_analysis):
    data = {"steps": steps, **({"analysis": {"count": 2, "interval": "10s"}} if with_analysis else {})}
    try:
        canary = parse_canary(READING, data)
    except InputError as error:
        assert error.message.startswith(f"stack config {CANARY_KEY}.{READING}") and error.hint
        return
    weights = [step.weight for step in canary.steps if isinstance(step, SetWeight)]
    assert weights == sorted(set(weights)) and all(1 <= w <= 100 for w in weights)
    assert all(step.seconds > 0 for step in canary.steps if isinstance(step, Pause))
    assert canary.minimum_seconds <= MAX_CANARY_SECONDS
    validate(rollout_canary(canary), "Rollout", "spec", "strategy", "canary")
