"""The staging stack (`Pulumi.staging.yaml`): Argo CD Applications pinned to the newest RC build, from the registry.

The same program as prod, told apart by `percolate-platform:environment: staging`. It
declares only the Argo CD side, `{application}-staging` in the staging namespaces from
`apps/staging/{application}`: GitHub settings are declared once, by the prod stack, and a
staging file that names one is refused. Nothing is written per RC: each Application is
pinned to the build index of the newest complete build of its project, which
`pipelines.staging.target` reads from `percolate-platform:registry` while the program runs
(`pulumi up`, preview, and `python -m infra render`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from infra.argocd import ArgoCd
from infra.config import KEYS, NAMESPACE, ArgoCdConfig, _argocd, decode_value, find_plaintext_secrets
from pipelines.core.catalog import DEFAULT_REGISTRY, STAGING_APPLICATION_SUFFIX, STAGING_ENVIRONMENT, image_projects
from pipelines.core.config_fields import ConfigObject, config_error
from pipelines.images.registry.location import is_loopback, parse_registry
from pipelines.staging.target import resolve_targets

ENVIRONMENT_KEY = f"{NAMESPACE}:environment"
STAGING_KEYS = ("environment", "argocd", "registry", "urls")
_URL = re.compile(r"(?P<scheme>https?)://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::[0-9]{1,5})?(?:/\S*)?")


def is_staging(values: Mapping[str, Any]) -> bool:
    """Whether a stack's config declares the staging stack (`percolate-platform:environment: staging`)."""
    return values.get(ENVIRONMENT_KEY) == STAGING_ENVIRONMENT


@dataclass(frozen=True)
class StagingSettings:
    argocd: ArgoCdConfig
    registry: str  # HOST[:PORT]/NAMESPACE, where the RC builds are
    urls: tuple[tuple[str, str], ...]  # (application, the URL integration tests run against), catalog order


def _urls(root: ConfigObject) -> tuple[tuple[str, str], ...]:
    applications = tuple(str(project.argocd_application) for project in image_projects())
    data = root.child("urls", applications, "{percolate-api: https://api.staging.example.org, ...}")
    urls = []
    for application in applications:
        url = data.string(application, example="https://api.staging.example.org")
        match = _URL.fullmatch(url)
        if match is None or (match["scheme"] == "http" and not is_loopback(match["host"].strip("[]"))):
            raise config_error(data.where(application), f"{url!r} is not an https URL", "use https://HOST[/PATH]")
        urls.append((application, url))
    return tuple(urls)


def parse_staging_settings(values: Mapping[str, Any], secret_keys: set[str]) -> StagingSettings:
    """Validate the staging stack's config: Argo CD, the registry, the URLs; nothing of GitHub."""
    plaintext = find_plaintext_secrets(values, secret_keys)
    if plaintext:
        raise config_error(plaintext[0], "holds a secret in plain text", "the staging stack needs no secret: remove it")
    ours = {
        key.split(":", 1)[1]: decode_value(key, value)
        for key, value in values.items()
        if key.startswith(f"{NAMESPACE}:") and value not in (None, "")
    }
    for name in ours:
        if name not in STAGING_KEYS and name in KEYS:
            raise config_error(
                f"{NAMESPACE}:{name}",
                "is a setting of the prod stack: GitHub settings and released pins are declared once, there",
                "remove it from the staging stack file (staging pins come from the registry)",
            )
    root = ConfigObject(ours, NAMESPACE, STAGING_KEYS, "see docs/staging.md", guide="docs/staging.md", separator=":")
    registry = root.string("registry", example=DEFAULT_REGISTRY, default=DEFAULT_REGISTRY)
    parse_registry(registry)
    return StagingSettings(argocd=_argocd(root), registry=registry, urls=_urls(root))


def no_build_warning(application: str, project: str) -> str:
    return (
        f"Argo CD application {application}: no complete build of {project} with a build index in the registry, "
        f"so the Application is declared without an image override. Push an RC tag ({project}-vX.Y.Z-rcN); "
        "its build writes the build index and runs `pulumi up --stack staging`."
    )


def declare_staging(settings: StagingSettings) -> None:
    """Resolve what staging runs and declare its Applications; export what the RC workflow reads."""
    targets = resolve_targets(settings.registry)
    for target in targets.values():
        chosen = f"{target.build} ({target.digest})" if target.build else "nothing yet"
        pulumi.log.info(f"staging {target.project}: {chosen}")
        for build in target.passed_over:
            pulumi.log.info(f"staging {target.project}: passed over the newer build {build}")
    pins = {project: target.pin() for project, target in targets.items() if target.digest is not None}
    argocd = ArgoCd(
        "argocd", settings.argocd, pins, suffix=STAGING_APPLICATION_SUFFIX, unpinned_warning=no_build_warning
    )
    pulumi.export("environment", STAGING_ENVIRONMENT)
    pulumi.export("registry", settings.registry)
    pulumi.export("argocdImages", argocd.images)
    # What the RC build reads after `pulumi up`: per project, the Application to gate, the digest it
    # must run, and the URL its integration tests run against.
    urls = dict(settings.urls)
    staged = {}
    for project in image_projects():
        application = str(project.argocd_application)
        staged[project.name] = {
            **targets[project.name].to_dict(),
            "application": f"{application}{STAGING_APPLICATION_SUFFIX}",
            "url": urls[application],
        }
    pulumi.export("stagingBuilds", staged)
