"""The Argo CD resources the program declares, checked field by field against Argo CD's own CRD schema.

The subset below is copied from Argo CD's CRDs (argoproj.io/v1alpha1 Application and
AppProject, openAPIV3Schema) for exactly the fields we set, with additionalProperties
closed so that a misspelled or invented field fails.
"""

from __future__ import annotations

import copy

import jsonschema
import pytest

STRING = {"type": "string"}
INTEGER = {"type": "integer"}  # format int64 in the CRD
BOOLEAN = {"type": "boolean"}
STRINGS = {"type": "array", "items": STRING}


def closed(properties: dict, required: list[str] | None = None) -> dict:
    return {"type": "object", "properties": properties, "required": required or [], "additionalProperties": False}


METADATA = closed(
    {
        "name": STRING,
        "namespace": STRING,
        "labels": {"type": "object", "additionalProperties": STRING},
        "annotations": {"type": "object", "additionalProperties": STRING},
        "finalizers": STRINGS,
    },
    ["name", "namespace"],
)
DESTINATION = closed({"name": STRING, "namespace": STRING, "server": STRING})
APPLICATION = closed(
    {
        "apiVersion": {"const": "argoproj.io/v1alpha1"},
        "kind": {"const": "Application"},
        "metadata": METADATA,
        "spec": closed(
            {
                "project": STRING,
                "destination": DESTINATION,
                "source": closed(
                    {
                        "repoURL": STRING,
                        "path": STRING,
                        "targetRevision": STRING,
                        "kustomize": closed({"images": STRINGS}),
                    },
                    ["repoURL"],
                ),
                "syncPolicy": closed(
                    {
                        "automated": closed(
                            {"allowEmpty": BOOLEAN, "enabled": BOOLEAN, "prune": BOOLEAN, "selfHeal": BOOLEAN}
                        ),
                        "syncOptions": STRINGS,
                        "retry": closed(
                            {
                                "limit": INTEGER,
                                "refresh": BOOLEAN,
                                "backoff": closed({"duration": STRING, "factor": INTEGER, "maxDuration": STRING}),
                            }
                        ),
                    }
                ),
                "revisionHistoryLimit": INTEGER,
            },
            ["destination", "project"],
        ),
    },
    ["apiVersion", "kind", "metadata", "spec"],
)
GROUP_KIND = closed({"group": STRING, "kind": STRING, "name": STRING}, ["group", "kind"])
APP_PROJECT = closed(
    {
        "apiVersion": {"const": "argoproj.io/v1alpha1"},
        "kind": {"const": "AppProject"},
        "metadata": METADATA,
        "spec": closed(
            {
                "description": {"type": "string", "maxLength": 255},
                "sourceRepos": STRINGS,
                "destinations": {"type": "array", "items": DESTINATION},
                "clusterResourceWhitelist": {"type": "array", "items": GROUP_KIND},
                "orphanedResources": closed({"warn": BOOLEAN}),
            }
        ),
    },
    ["apiVersion", "kind", "metadata", "spec"],
)


def _argocd(rendering):
    applications = rendering.of_type("kubernetes:argoproj.io/v1alpha1:Application")
    project = rendering.named("kubernetes:argoproj.io/v1alpha1:AppProject", "argocd-project")
    return applications, project


def test_applications_and_project_match_argo_cds_schema(config, render):
    applications, project = _argocd(render(config))
    assert len(applications) == 2
    for application in applications:
        jsonschema.validate(application.inputs, APPLICATION)
    jsonschema.validate(project.inputs, APP_PROJECT)


def test_an_unpinned_application_still_matches_the_schema(config, render):
    config["percolate-platform:images"] = {}
    applications, _ = _argocd(render(config))
    for application in applications:
        jsonschema.validate(application.inputs, APPLICATION)


def test_each_application_field_has_the_value_argo_cd_expects(config, render):
    applications, project = _argocd(render(config))
    for application in applications:
        spec = application.inputs["spec"]
        assert spec["project"] == project.inputs["metadata"]["name"]
        assert spec["source"]["repoURL"] in project.inputs["spec"]["sourceRepos"]
        assert spec["destination"] in project.inputs["spec"]["destinations"]
        assert spec["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
        assert "CreateNamespace=true" in spec["syncPolicy"]["syncOptions"]
        assert spec["syncPolicy"]["retry"] == {
            "limit": 5,
            "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"},
        }
        assert spec["revisionHistoryLimit"] == 10
        assert application.inputs["metadata"]["name"] == spec["source"]["path"].rsplit("/", 1)[1]
    # CreateNamespace needs the project to allow the Namespace kind, and only that, cluster-wide.
    assert project.inputs["spec"]["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace"}]


@pytest.mark.parametrize(
    "spoil",
    [
        lambda a: a["spec"]["syncPolicy"]["automated"].update(selfheal=True),
        lambda a: a["spec"]["source"].update(repoUrl="x"),
        lambda a: a["spec"].update(revisionHistoryLimit="10"),
        lambda a: a["spec"].pop("project"),
        lambda a: a["spec"]["source"]["kustomize"].update(images="x@sha256:1"),
    ],
)
def test_the_schema_subset_is_strict_enough_to_catch_mistakes(config, render, spoil):
    applications, _ = _argocd(render(config))
    spoiled = copy.deepcopy(applications[0].inputs)
    spoil(spoiled)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(spoiled, APPLICATION)
