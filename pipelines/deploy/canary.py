"""The `percolate-platform:canary` stack-config section: how an image project rolls out by steps.

Only a project whose manifests hold an Argo Rollouts `Rollout` (the catalog's `argocd_rollout`,
percolate-reading) may have an entry:

    percolate-platform:canary:
      percolate-reading:
        steps:                      # setWeight (rising, at most 100), timed pause, analysis
          - setWeight: 20
          - pause: 2m
          - analysis: true
          - setWeight: 50
          - pause: 5m
        analysis:                   # the template every analysis step runs; `web` by default
          web: {port: 8080, path: /healthz}        # or prometheus: {address, query, successCondition}
          interval: 30s
          count: 4
          failureLimit: 0
        abortOnInconclusive: true   # the health gate aborts an inconclusive analysis (default)

Pure: `parse_canaries` validates the section into frozen `Canary` values or raises `InputError`
naming the key and the fix. What a `Canary` becomes in the cluster is pipelines.deploy.argo_rollouts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.core.catalog import PULUMI_PROJECT, get_project, image_projects
from pipelines.core.config_fields import ConfigObject, config_error
from pipelines.core.names import DNS_LABEL

CANARY_KEY = f"{PULUMI_PROJECT}:canary"
ROLLOUTS_API_VERSION = "argoproj.io/v1alpha1"
ENTRY_FIELDS = ("steps", "analysis", "abortOnInconclusive", "canaryService", "stableService")
ANALYSIS_FIELDS = (
    "web", "prometheus", "interval", "count", "failureLimit", "inconclusiveLimit", "consecutiveErrorLimit",
)  # fmt: skip
WEB_FIELDS = ("port", "path", "jsonPath", "successCondition", "failureCondition", "timeoutSeconds")
PROMETHEUS_FIELDS = ("address", "query", "successCondition", "failureCondition")
# The longest a canary may take by its pauses and analyses: deploy.yml's gate waits 1500 s, and the
# pods of each step need time to start besides.
MAX_CANARY_SECONDS = 1200
# The argument every analysis step passes: the canary's pod-template hash, for Prometheus queries.
CANARY_HASH_ARG = "canary-hash"
DEFAULT_PORT = 8080
DEFAULT_PATH = "/healthz"
DEFAULT_JSON_PATH = "{$.status}"
DEFAULT_WEB_CONDITION = 'result == "ok"'

_DURATION = re.compile(r"([1-9][0-9]{0,5})(s|m|h)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
_HTTP_PATH = re.compile(r"/[A-Za-z0-9._~/?=&%-]*")
_ADDRESS = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~/-]*)?")


@dataclass(frozen=True)
class SetWeight:
    weight: int

    def to_step(self) -> dict[str, Any]:
        return {"setWeight": self.weight}


@dataclass(frozen=True)
class Pause:
    duration: str  # as Argo Rollouts reads it: 30s, 5m, 1h

    @property
    def seconds(self) -> int:
        return duration_seconds(self.duration)

    def to_step(self) -> dict[str, Any]:
        return {"pause": {"duration": self.duration}}


@dataclass(frozen=True)
class AnalysisStep:
    """Run the configured AnalysisTemplate against the canary; the step ends with the run."""

    def to_step(self, template: str) -> dict[str, Any]:
        return {
            "analysis": {
                "templates": [{"templateName": template}],
                "args": [{"name": CANARY_HASH_ARG, "valueFrom": {"podTemplateHashValue": "Latest"}}],
            }
        }


Step = SetWeight | Pause | AnalysisStep


@dataclass(frozen=True)
class WebMetric:
    """GET the canary Service's health endpoint; `jsonPath` picks `result` for the conditions."""

    port: int = DEFAULT_PORT
    path: str = DEFAULT_PATH
    json_path: str = DEFAULT_JSON_PATH
    success_condition: str = DEFAULT_WEB_CONDITION
    failure_condition: str | None = None
    timeout_seconds: int = 10


@dataclass(frozen=True)
class PrometheusMetric:
    address: str
    query: str
    success_condition: str
    failure_condition: str | None = None


@dataclass(frozen=True)
class AnalysisConfig:
    metric: WebMetric | PrometheusMetric
    interval: str
    count: int
    failure_limit: int
    inconclusive_limit: int
    consecutive_error_limit: int

    @property
    def seconds(self) -> int:
        """How long one run takes at least: `count` measurements, `interval` apart."""
        return (self.count - 1) * duration_seconds(self.interval)


@dataclass(frozen=True)
class Canary:
    """One project's canary: the steps, the analysis they run, and whether inconclusive aborts."""

    project: str
    application: str
    rollout: str
    canary_service: str
    stable_service: str
    steps: tuple[Step, ...]
    analysis: AnalysisConfig | None
    abort_on_inconclusive: bool

    @property
    def template_name(self) -> str:
        return f"{self.rollout}-analysis"

    @property
    def minimum_seconds(self) -> int:
        """The time the steps take at the least: every pause and every analysis run."""
        analysis = self.analysis.seconds if self.analysis else 0
        return sum(
            step.seconds if isinstance(step, Pause) else analysis
            for step in self.steps
            if not isinstance(step, SetWeight)
        )


def duration_seconds(text: str) -> int:
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(text)
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _fields(data: Any, path: str, fields: tuple[str, ...], example: str) -> ConfigObject:
    return ConfigObject(data, path, fields, example, guide="docs/canary.md")


def _duration(section: ConfigObject, field: str, default: str) -> str:
    value = section.raw(field, default, default)
    text = f"{value}s" if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or _DURATION.fullmatch(text) is None:
        raise config_error(
            section.where(field), f"{value!r} is not a duration", "write seconds, minutes or hours: 30s, 5m, 1h"
        )
    return text


def _step(item: Any, path: str) -> Step:
    if not isinstance(item, Mapping) or len(item) != 1:
        raise config_error(
            path, f"{item!r} is not one step", "write one of: {setWeight: 20}, {pause: 5m}, {analysis: true}"
        )
    ((kind, value),) = item.items()
    if kind == "setWeight":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
            raise config_error(f"{path}.setWeight", f"{value!r} is not a weight from 1 to 100", "e.g. setWeight: 20")
        return SetWeight(value)
    if kind == "pause":
        if value is None or value == {} or (isinstance(value, Mapping) and "duration" not in value):
            raise config_error(
                f"{path}.pause",
                "an untimed pause waits for a person to promote, and the health gate cannot promote by hand",
                "give it a duration, e.g. pause: 5m",
            )
        duration = value.get("duration") if isinstance(value, Mapping) else value
        return Pause(_duration(_fields({"pause": duration}, path, ("pause",), "pause: 5m"), "pause", "0s"))
    if kind == "analysis":
        if value is not True:
            raise config_error(
                f"{path}.analysis", f"{value!r} is not true", "write analysis: true (it runs the section's analysis)"
            )
        return AnalysisStep()
    raise config_error(f"{path}.{kind}", "unknown step", "the steps are setWeight, pause and analysis")


def _steps(data: Any, path: str) -> tuple[Step, ...]:
    if not isinstance(data, list) or not data:
        raise config_error(
            path, f"expected a list of steps, got {data!r}", "e.g. [{setWeight: 20}, {pause: 5m}, {analysis: true}]"
        )
    steps = tuple(_step(item, f"{path}[{index}]") for index, item in enumerate(data))
    weight = 0
    for index, step in enumerate(steps):
        if isinstance(step, SetWeight):
            if step.weight <= weight:
                raise config_error(
                    f"{path}[{index}].setWeight",
                    f"{step.weight} does not rise above the previous weight {weight}",
                    "make the weights rise step by step towards 100, e.g. 20, 50, 100",
                )
            weight = step.weight
        if isinstance(step, AnalysisStep) and weight == 0:
            raise config_error(
                f"{path}[{index}].analysis",
                "no canary pods run yet, so there is nothing to analyse",
                "put a setWeight step before the first analysis step",
            )
    return steps


def _metric(section: ConfigObject) -> WebMetric | PrometheusMetric:
    kinds = [kind for kind in ("web", "prometheus") if kind in section.data]
    if len(kinds) > 1:
        raise config_error(
            section.path, "has both web and prometheus", "keep one of them: the template measures one metric"
        )
    if kinds == ["prometheus"]:
        query = _fields(
            section.data["prometheus"], section.where("prometheus"), PROMETHEUS_FIELDS, "{address: ..., query: ...}"
        )
        return PrometheusMetric(
            address=query.string("address", example="http://prometheus.monitoring.svc:9090", pattern=_ADDRESS),
            query=query.string("query", example="sum(rate(...))"),
            success_condition=query.string("successCondition", example="result[0] >= 0.99"),
            failure_condition=query.optional_string("failureCondition", example="result[0] < 0.9"),
        )
    web = _fields(section.data.get("web") or {}, section.where("web"), WEB_FIELDS, "{port: 8080, path: /healthz}")
    return WebMetric(
        port=web.integer("port", default=DEFAULT_PORT, minimum=1, maximum=65535),
        path=web.string("path", example=DEFAULT_PATH, default=DEFAULT_PATH, pattern=_HTTP_PATH),
        json_path=web.string("jsonPath", example=DEFAULT_JSON_PATH, default=DEFAULT_JSON_PATH),
        success_condition=web.string("successCondition", example=DEFAULT_WEB_CONDITION, default=DEFAULT_WEB_CONDITION),
        failure_condition=web.optional_string("failureCondition", example="result < 0.9"),
        timeout_seconds=web.integer("timeoutSeconds", default=10, minimum=1, maximum=60),
    )


def _analysis(data: Any, path: str) -> AnalysisConfig:
    section = _fields(data or {}, path, ANALYSIS_FIELDS, "{web: {port: 8080, path: /healthz}, count: 4}")
    return AnalysisConfig(
        metric=_metric(section),
        interval=_duration(section, "interval", "30s"),
        count=section.integer("count", default=4, minimum=1, maximum=100),
        failure_limit=section.integer("failureLimit", default=0, minimum=0, maximum=100),
        inconclusive_limit=section.integer("inconclusiveLimit", default=0, minimum=0, maximum=100),
        consecutive_error_limit=section.integer("consecutiveErrorLimit", default=4, minimum=0, maximum=100),
    )


def parse_canary(project_name: str, data: Any, *, key: str = CANARY_KEY) -> Canary:
    path = f"{key}.{project_name}"
    project = get_project(project_name) if project_name in {p.name for p in image_projects()} else None
    if project is None or project.argocd_rollout is None:
        rollouts = ", ".join(p.name for p in image_projects() if p.argocd_rollout)
        raise config_error(
            path,
            "this project cannot roll out by canary: its manifests hold no Argo Rollouts Rollout",
            f"only these projects deploy a Rollout: {rollouts}; remove the entry",
        )
    entry = _fields(data, path, ENTRY_FIELDS, "{steps: [{setWeight: 20}, {pause: 5m}]}")
    if "steps" not in entry.data:
        raise config_error(
            entry.where("steps"), "missing", "list the steps, e.g. [{setWeight: 20}, {pause: 5m}, {analysis: true}]"
        )
    steps = _steps(entry.data["steps"], entry.where("steps"))
    analysis = _analysis(entry.data["analysis"], entry.where("analysis")) if "analysis" in entry.data else None
    if analysis is None and any(isinstance(step, AnalysisStep) for step in steps):
        index = next(i for i, step in enumerate(steps) if isinstance(step, AnalysisStep))
        raise config_error(
            f"{entry.where('steps')}[{index}].analysis",
            "an analysis step needs a template, and the entry has no analysis section",
            f"add {entry.where('analysis')} (e.g. analysis: {{web: {{port: 8080, path: /healthz}}}}) "
            "or remove the step",
        )
    rollout = str(project.argocd_rollout)
    canary = Canary(
        project=project.name,
        application=str(project.argocd_application),
        rollout=rollout,
        canary_service=entry.string(
            "canaryService", example=f"{rollout}-canary", default=f"{rollout}-canary", pattern=DNS_LABEL
        ),
        stable_service=entry.string(
            "stableService", example=f"{rollout}-stable", default=f"{rollout}-stable", pattern=DNS_LABEL
        ),
        steps=steps,
        analysis=analysis,
        abort_on_inconclusive=entry.boolean("abortOnInconclusive", default=True),
    )
    if canary.canary_service == canary.stable_service:
        raise config_error(
            entry.where("canaryService"), "is the stable Service too", "name two Services, e.g. X-canary and X-stable"
        )
    if canary.minimum_seconds > MAX_CANARY_SECONDS:
        raise config_error(
            entry.where("steps"),
            f"the pauses and analyses take at least {canary.minimum_seconds}s, more than {MAX_CANARY_SECONDS}s",
            "shorten the pauses or the analysis (count x interval): deploy.yml's health gate waits 1500s",
        )
    return canary


def parse_canaries(data: Any, *, key: str = CANARY_KEY) -> dict[str, Canary]:
    """The whole section (absent: no canaries), by project name."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise config_error(
            key, f"expected a mapping of projects, got {data!r}", "e.g. {percolate-reading: {steps: [...]}}"
        )
    return {str(name): parse_canary(str(name), value, key=key) for name, value in data.items()}
