"""The health gate's rule: is an Argo CD Application Synced and Healthy *with the new image*?

`judge` takes one Application object (`argoproj.io/v1alpha1`, as the Kubernetes API
returns it) and the image index digest being deployed, and answers waiting, healthy
or failed with a reason. It does no I/O; the `wait-healthy` command polls and asks it.

A status only counts once it is about the new digest: Argo CD lists it among the
running images (`status.summary.images`) or compared the live state against a source
that pins it (`status.sync.comparedTo`). Until then a Degraded health or a failed
sync belongs to the previous revision and the gate keeps waiting, so deploying a fix
to a broken app is not rolled back for the breakage it repairs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pipelines.core.digests import DIGEST_FORM, is_digest
from pipelines.core.errors import InputError

SYNCED = "Synced"
HEALTHY = "Healthy"
DEGRADED = "Degraded"
# Operation phases Argo CD reports: Running, Terminating, Failed, Error, Succeeded.
FAILED_PHASES = frozenset({"Failed", "Error"})
UNFINISHED_PHASES = frozenset({"Running", "Terminating"})


class State(str, Enum):
    WAITING = "waiting"
    HEALTHY = "healthy"
    FAILED = "failed"


class Failure(str, Enum):
    DEGRADED = "degraded"
    SYNC_FAILED = "sync-failed"


@dataclass(frozen=True)
class Condition:
    """One entry of `status.conditions`: usually an error or a warning (SyncError, ComparisonError, ...)."""

    type: str
    message: str
    last_transition_time: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "message": self.message, "lastTransitionTime": self.last_transition_time}


@dataclass(frozen=True)
class ResourceHealth:
    """A managed resource (`status.resources[]`) whose health is not Healthy."""

    kind: str
    namespace: str | None
    name: str
    status: str
    message: str | None = None

    @property
    def label(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}: {self.status}" + (f" - {self.message}" if self.message else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "status": self.status,
            "message": self.message,
        }


@dataclass(frozen=True)
class Verdict:
    """What the gate concludes from one Application object."""

    state: State
    reason: str
    sync: str | None
    health: str | None
    health_message: str | None
    operation_phase: str | None
    operation_message: str | None
    conditions: tuple[Condition, ...]
    unhealthy_resources: tuple[ResourceHealth, ...]
    running_images: tuple[str, ...]
    pinned: bool  # the Application's spec pins the digest
    failure: Failure | None = None

    @property
    def final(self) -> bool:
        return self.state is not State.WAITING

    @property
    def status_line(self) -> str:
        """Sync, health and operation in a few words; what progress lines report when it changes."""
        operation = f", operation {self.operation_phase}" if self.operation_phase else ""
        return f"sync {self.sync or 'unknown'}, health {self.health or 'unknown'}{operation}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "failure": self.failure.value if self.failure else None,
            "reason": self.reason,
            "sync": self.sync,
            "health": self.health,
            "health_message": self.health_message,
            "operation_phase": self.operation_phase,
            "operation_message": self.operation_message,
            "conditions": [condition.to_dict() for condition in self.conditions],
            "unhealthy_resources": [resource.to_dict() for resource in self.unhealthy_resources],
            "running_images": list(self.running_images),
            "pinned": self.pinned,
        }


def parse_digest(text: str) -> str:
    """The image index digest the gate waits for; an InputError unless it is sha256 + 64 hex."""
    if not is_digest(text):
        raise InputError(
            f"malformed digest {text!r}: expected {DIGEST_FORM}",
            hint="pass the index digest from the stack config's images.<project>.digest",
        )
    return text


def _get(obj: Any, *path: str) -> Any:
    """The value at `path` in nested mappings, or None wherever a level is missing or not a mapping."""
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _mentions(value: Any, digest: str) -> bool:
    """Whether any string inside `value` carries `digest` (kustomize images, Helm values, plugin env alike)."""
    if isinstance(value, str):
        return re.search(re.escape(digest) + r"(?![0-9a-f])", value) is not None
    if isinstance(value, Mapping):
        return any(_mentions(item, digest) for item in value.values())
    if isinstance(value, list):
        return any(_mentions(item, digest) for item in value)
    return False


def _sources(holder: Any) -> list[Any]:
    """`source` and `sources` of a spec, comparedTo or sync result: single- and multi-source apps alike."""
    return [_get(holder, "source"), *_items(_get(holder, "sources"))]


def _conditions(status: Any) -> tuple[Condition, ...]:
    return tuple(
        Condition(
            str(item.get("type") or "Unknown"), str(item.get("message") or ""), _text(item.get("lastTransitionTime"))
        )
        for item in _items(_get(status, "conditions"))
        if isinstance(item, Mapping)
    )


def _unhealthy(status: Any) -> tuple[ResourceHealth, ...]:
    found = []
    for item in _items(_get(status, "resources")):
        health = _text(_get(item, "health", "status"))
        if health is None or health == HEALTHY:
            continue
        found.append(
            ResourceHealth(
                kind=str(item.get("kind") or "?"),
                namespace=_text(item.get("namespace")),
                name=str(item.get("name") or "?"),
                status=health,
                message=_text(_get(item, "health", "message")),
            )
        )
    return tuple(found)


def _failure_reason(kind: str, message: str | None, resources: tuple[ResourceHealth, ...]) -> str:
    details = [message] if message else []
    details += [resource.label for resource in resources]
    return kind + (": " + "; ".join(details) if details else "")


def judge(application: Mapping[str, Any], digest: str) -> Verdict:
    """Waiting, healthy or failed: the gate's verdict on one Application object for `digest`."""
    spec = _get(application, "spec")
    status = _get(application, "status")
    sync = _text(_get(status, "sync", "status"))
    health = _text(_get(status, "health", "status"))
    health_message = _text(_get(status, "health", "message"))
    operation = _get(status, "operationState")
    phase = _text(_get(operation, "phase"))
    operation_message = _text(_get(operation, "message"))
    images = tuple(image for image in _items(_get(status, "summary", "images")) if isinstance(image, str))
    unhealthy = _unhealthy(status)

    running = any(image.endswith("@" + digest) for image in images)
    compared = _mentions(_sources(_get(status, "sync", "comparedTo")), digest)
    about_new = running or compared
    pinned = _mentions(_sources(spec), digest)
    operation_for_digest = _mentions(
        _sources(_get(operation, "syncResult")) + _sources(_get(operation, "operation", "sync")), digest
    )

    def verdict(state: State, reason: str, failure: Failure | None = None) -> Verdict:
        return Verdict(
            state=state,
            reason=reason,
            sync=sync,
            health=health,
            health_message=health_message,
            operation_phase=phase,
            operation_message=operation_message,
            conditions=_conditions(status),
            unhealthy_resources=unhealthy,
            running_images=images,
            pinned=pinned,
            failure=failure,
        )

    if phase in FAILED_PHASES and (about_new or operation_for_digest):
        return verdict(
            State.FAILED, _failure_reason(f"sync operation {phase}", operation_message, ()), Failure.SYNC_FAILED
        )
    if health == DEGRADED and about_new:
        return verdict(State.FAILED, _failure_reason("health Degraded", health_message, unhealthy), Failure.DEGRADED)
    if about_new and sync == SYNCED and health == HEALTHY and phase not in UNFINISHED_PHASES:
        shown = "running" if running else "compared against a source pinning it"
        return verdict(State.HEALTHY, f"Synced and Healthy with {digest} ({shown})")

    if not about_new:
        if not pinned:
            reason = f"the Application does not pin {digest} yet (has the deploy's `pulumi up` applied it?)"
        else:
            reason = f"Argo CD has not yet compared or deployed {digest}"
        if health == DEGRADED or phase in FAILED_PHASES:
            current = "health Degraded" if health == DEGRADED else f"operation {phase}"
            reason += f"; its current {current} is the previous revision's"
    elif phase in UNFINISHED_PHASES:
        reason = f"a sync operation is {phase}"
    elif sync != SYNCED:
        reason = f"sync status is {sync or 'not reported yet'}"
    else:
        reason = f"health is {health or 'not reported yet'}"
    return verdict(State.WAITING, reason)
