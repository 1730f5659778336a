"""`python -m pipelines preflight` against the loopback stand-ins (conftest.py), in this process.

The control is the world where every check passes; each test of a failing step then breaks exactly one
thing of it and expects exactly that check to fail, every other check as before (the checks that read
through the broken one are skipped and say so).
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from pipelines.plan.preflight import GROUPS
from tests.plan.conftest import (
    ADMIN_TOKEN,
    KUBE_TOKEN,
    MANIFESTS,
    PAT,
    REGISTRY_PASSWORD,
    STAGING_KUBE_TOKEN,
    Result,
    write_kubeconfig,
)

# Skipped in the world where everything is set up: PyPI has no API, and staging configures no canary.
SKIPPED = {
    "publishers.percolate-rocks.pypi.form",
    "publishers.percolate-rocks.testpypi.form",
    "clusters.staging.rollouts",
}
GITHUB = {
    "github.environments",
    "github.secrets.repository",
    "github.secrets.github-pages",
    "github.secrets.production",
    "github.secrets.staging",
    "github.team.release-managers",
    "github.team.platform-reviewers",
}


def only_failed(result: Result, name: str, *, now_skipped: Iterable[str] = ()) -> dict[str, object]:
    """Exit 1, `name` the one failed check, and the skipped ones those of the control plus `now_skipped`."""
    statuses = result.statuses()
    assert result.code == 1, result.stderr
    assert {check for check, status in statuses.items() if status == "failed"} == {name}, statuses
    assert {check for check, status in statuses.items() if status == "skipped"} == SKIPPED | set(now_skipped)
    failed = result.check(name)
    assert failed["fix"], f"{name} failed without saying what to do"
    return failed


def test_every_check_passes_when_everything_is_set_up(setup):
    result = setup.run()
    assert result.code == 0, result.stderr
    statuses = result.statuses()
    assert {name for name, status in statuses.items() if status != "passed"} == SKIPPED
    assert GITHUB | {"stacks.prod", "stacks.staging", "registry", "clusters.prod.rollouts"} <= set(statuses)
    # Every listing was read page by page (the stand-in serves two names a page).
    assert ("GET", "/repos/percolation-labs/percolate/environments") in setup.github.seen
    assert len([seen for seen in setup.github.seen if seen[1].endswith("/environments")]) == 2
    crd = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
    assert {path.removeprefix(crd) for path in setup.prod.seen} == {
        "applications.argoproj.io",
        "appprojects.argoproj.io",
        "rollouts.argoproj.io",
        "analysistemplates.argoproj.io",
    }
    assert {path.removeprefix(crd) for path in setup.staging.seen} == {
        "applications.argoproj.io",
        "appprojects.argoproj.io",
    }


def test_json_is_a_list_of_checks_with_name_status_detail_and_fix(setup):
    checks = setup.run().json()
    assert isinstance(checks, list) and checks
    for check in checks:
        assert set(check) == {"name", "status", "detail", "fix"}
        assert check["status"] in {"passed", "failed", "skipped"}
        assert isinstance(check["detail"], str) and check["detail"]
        assert check["fix"] is None if check["status"] == "passed" else True
    names = [check["name"] for check in checks]
    assert len(names) == len(set(names))
    groups = [name.split(".", 1)[0] for name in names]
    assert sorted(groups, key=list(GROUPS).index) == groups  # in the order of the groups
    form = setup.run().check("publishers.percolate-rocks.pypi.form")
    assert "Workflow name release-rocks.yml" in form["fix"] and "Environment name production" in form["fix"]


def test_people_get_a_line_per_check_and_progress_on_stderr(setup):
    setup.github.teams["release-managers"] = 4242
    result = setup.run(json_output=False)
    assert result.code == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("FAILED   github.team.release-managers ") for line in lines)
    assert any(line.startswith("passed   stacks.prod ") for line in lines)
    assert any(line.strip().startswith("fix: pulumi config set --path") for line in lines)
    assert lines[-1] == "22 passed, 1 failed, 3 skipped"
    assert "checking clusters" in result.stderr and "checking clusters" not in result.stdout


# -- one test per failing step -------------------------------------------------------------------------


def test_a_prod_stack_file_that_does_not_validate(setup):
    setup.edit_config("prod", "argocd", lambda argocd: argocd.update(server="http://kubernetes.default.svc"))
    dependent = GITHUB - {"github.team.release-managers", "github.team.platform-reviewers"} | {"github.teams"}
    dependent |= {"manifests.prod", "manifests.prod.percolate-api", "manifests.prod.percolate-reading"}
    failed = only_failed(setup.run(), "stacks.prod", now_skipped=dependent | {"clusters.prod.rollouts"})
    assert "percolate-platform:argocd.server" in str(failed["detail"]) and "is not an https URL" in str(
        failed["detail"]
    )


def test_a_staging_stack_file_that_does_not_validate(setup):
    setup.edit_config("staging", "urls", lambda urls: urls.update({"percolate-api": "http://api.staging.example"}))
    dependent = {"manifests.staging", "manifests.staging.percolate-api", "manifests.staging.percolate-reading"}
    failed = only_failed(setup.run(), "stacks.staging", now_skipped=dependent)
    assert "percolate-platform:urls.percolate-api" in str(failed["detail"])


def test_a_missing_environment(setup):
    del setup.github.environments["github-pages"]
    failed = only_failed(setup.run(), "github.environments")
    assert "has no environment github-pages" in str(failed["detail"])
    assert "pulumi up --stack prod" in str(failed["fix"])


def test_a_missing_repository_secret(setup):
    setup.github.repository_secrets = {"SLACK_WEBHOOK_URL"}
    failed = only_failed(setup.run(), "github.secrets.repository")
    assert "no Actions secret PERCOLATE_GIT_PAT" in str(failed["detail"])
    assert "pulumi config set --secret percolate-platform:percolateGitPat --stack prod" in str(failed["fix"])


def test_a_missing_environment_secret(setup):
    setup.github.environments["production"] = {"INFRA_GITHUB_TOKEN"}
    failed = only_failed(setup.run(), "github.secrets.production")
    assert "lacks the secret(s) KUBECONFIG" in str(failed["detail"])
    assert "Settings → Environments → production → Environment secrets" in str(failed["fix"])


def test_an_environment_secret_that_is_a_repository_secret_too(setup):
    setup.github.repository_secrets.add("STAGING_KUBECONFIG")
    failed = only_failed(setup.run(), "github.secrets.staging")
    assert "STAGING_KUBECONFIG is also a repository secret" in str(failed["detail"])
    assert "delete the repository secret STAGING_KUBECONFIG" in str(failed["fix"])


def test_a_team_id_that_is_not_the_slugs(setup):
    setup.github.teams["release-managers"] = 4242
    failed = only_failed(setup.run(), "github.team.release-managers")
    assert "has id 4242 on GitHub; the stack config says 1000001" in str(failed["detail"])
    assert (
        failed["fix"] == "pulumi config set --path 'percolate-platform:releaseManagers.teams[0].id' 4242 --stack prod"
    )


def test_a_publishing_workflow_that_pypi_would_not_trust(setup):
    def drop_id_token(workflow):
        workflow["jobs"]["publish-pypi"]["permissions"] = {"contents": "read"}

    setup.edit_yaml(".github/workflows/release-rocks.yml", drop_id_token)
    failed = only_failed(setup.run(), "publishers.percolate-rocks.pypi.workflow")
    assert "publishes without permissions: id-token: write" in str(failed["detail"])


def test_a_manifests_repository_the_pat_cannot_read(setup):
    setup.edit_config(
        "prod", "argocd", lambda argocd: argocd.update(manifestsRepo=f"https://github.com/{MANIFESTS}-prod")
    )
    failed = only_failed(
        setup.run(), "manifests.prod", now_skipped={"manifests.prod.percolate-api", "manifests.prod.percolate-reading"}
    )
    assert "404" in str(failed["detail"])
    assert f"give PERCOLATE_GIT_PAT read access to {MANIFESTS}-prod" in str(failed["fix"])


def test_an_application_folder_without_a_kustomization(setup):
    setup.github.folders[(f"{MANIFESTS}:apps/prod/percolate-api", "main")] = ["deployment.yaml"]
    failed = only_failed(setup.run(), "manifests.prod.percolate-api")
    assert "holds no kustomization.yaml (it holds deployment.yaml)" in str(failed["detail"])


def test_a_missing_application_folder(setup):
    del setup.github.folders[(f"{MANIFESTS}:apps/staging/percolate-reading", "main")]
    failed = only_failed(setup.run(), "manifests.staging.percolate-reading")
    assert f"{MANIFESTS}:apps/staging/percolate-reading at main does not exist" in str(failed["detail"])


def test_a_registry_that_refuses_the_credentials(setup, monkeypatch):
    monkeypatch.setenv("REGISTRY_PASSWORD", "Wr0ngPassw0rdQz7Xk")
    failed = only_failed(setup.run(), "registry")
    assert "refused the credentials from REGISTRY_USERNAME/REGISTRY_PASSWORD" in str(failed["detail"])


def test_a_cluster_that_refuses_the_kubeconfig(setup):
    setup.prod.token = "another-token-Jx4Wq9Lp2Zt6"
    failed = only_failed(setup.run(), "clusters.prod", now_skipped={"clusters.prod.argocd", "clusters.prod.rollouts"})
    assert "unauthorized to read CustomResourceDefinition 'applications.argoproj.io'" in str(failed["detail"])


def test_a_cluster_without_argo_cds_crds(setup):
    setup.prod.crds.discard("appprojects.argoproj.io")
    failed = only_failed(setup.run(), "clusters.prod.argocd")
    assert "has no CustomResourceDefinition appprojects.argoproj.io" in str(failed["detail"])
    assert "install Argo CD in namespace argocd" in str(failed["fix"])


def test_a_cluster_with_a_canary_but_without_argo_rollouts_crds(setup):
    setup.prod.crds.discard("analysistemplates.argoproj.io")
    failed = only_failed(setup.run(), "clusters.prod.rollouts")
    assert "has no CustomResourceDefinition analysistemplates.argoproj.io" in str(failed["detail"])
    assert "argoRollouts.install: true" in str(failed["fix"])  # the prod stack installs the controller


def test_a_staging_cluster_that_refuses_the_kubeconfig(setup):
    setup.staging.token = "another-token-Jx4Wq9Lp2Zt6"
    failed = only_failed(setup.run(), "clusters.staging", now_skipped={"clusters.staging.argocd"})
    assert f"{setup.staging.url} (context test of " in str(failed["detail"]) and "unauthorized" in str(failed["detail"])


def test_a_staging_cluster_without_argo_cd(setup):
    setup.staging.crds.clear()
    failed = only_failed(setup.run(), "clusters.staging.argocd")
    assert "applications.argoproj.io, appprojects.argoproj.io" in str(failed["detail"])


# -- credentials, scope, usage ----------------------------------------------------------------------


SECRETS = (ADMIN_TOKEN, PAT, KUBE_TOKEN, STAGING_KUBE_TOKEN, REGISTRY_PASSWORD)


def test_no_credential_is_printed_even_when_every_service_echoes_it(setup, monkeypatch):
    """Every stand-in refuses what it is sent and quotes it back; the output shows none of it."""
    setup.github.echo = setup.prod.echo = setup.staging.echo = True
    setup.github.readable_with_pat = set()  # the PAT gets a 404 that quotes it
    monkeypatch.setenv("GITHUB_TOKEN", ADMIN_TOKEN[::-1])  # a token GitHub does not know: 401 quoting it
    setup.prod.token = setup.staging.token = "another-token-Jx4Wq9Lp2Zt6"
    secrets = (*SECRETS, ADMIN_TOKEN[::-1])
    for json_output in (True, False):
        result = setup.run(json_output=json_output)
        assert result.code == 1
        printed = result.stdout + result.stderr
        for secret in secrets:
            assert not any(secret[i : i + 8] in printed for i in range(len(secret) - 7)), secret
    # Control: the stand-ins did send them back, so the output had them to leak.
    sent = b"".join(setup.github.sent + setup.prod.sent + setup.staging.sent).decode()
    for secret in (ADMIN_TOKEN[::-1], PAT, KUBE_TOKEN, STAGING_KUBE_TOKEN):
        assert secret in sent


def test_a_staging_kubeconfig_given_as_content_is_refused_and_never_echoed(setup, monkeypatch):
    monkeypatch.setenv("STAGING_KUBECONFIG", setup.kubeconfigs["staging"].read_text())
    result = setup.run("--kubeconfig", str(setup.kubeconfigs["prod"]), kubeconfigs=False)
    check = result.check("clusters.staging")
    assert (check["status"], check["detail"]) == ("failed", "STAGING_KUBECONFIG does not name a kubeconfig file")
    assert STAGING_KUBE_TOKEN[:12] not in result.stdout + result.stderr


def test_kubeconfigs_from_the_environment(setup, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(setup.kubeconfigs["prod"]))
    monkeypatch.setenv("STAGING_KUBECONFIG", str(setup.kubeconfigs["staging"]))
    result = setup.run("--only", "clusters", kubeconfigs=False)
    assert result.code == 0, result.stdout
    assert result.check("clusters.staging")["detail"].startswith(setup.staging.url)


def test_without_credentials_the_checks_that_need_them_are_skipped_and_say_what_to_set(setup, monkeypatch):
    for name in ("GITHUB_TOKEN", "PERCOLATE_GIT_PAT"):
        monkeypatch.delenv(name)
    result = setup.run(kubeconfigs=False)
    assert result.code == 0, result.stdout  # skipped is not failed
    statuses = result.statuses()
    assert {name for name, status in statuses.items() if status == "failed"} == set()
    assert all(statuses[name] == "skipped" for name in GITHUB)
    assert "set GITHUB_TOKEN" in result.check("github.environments")["fix"]
    assert "set PERCOLATE_GIT_PAT" in result.check("manifests.prod")["fix"]
    assert "set KUBECONFIG" in result.check("clusters.prod")["fix"]
    assert "set STAGING_KUBECONFIG" in result.check("clusters.staging")["fix"]
    assert setup.github.seen == [] and setup.prod.seen == []


def test_only_and_stack_choose_the_checks(setup):
    result = setup.run("--only", "registry,clusters", "--stack", "staging")
    assert result.code == 0, result.stdout
    assert list(result.statuses()) == [
        "registry",
        "clusters.staging",
        "clusters.staging.argocd",
        "clusters.staging.rollouts",
    ]
    assert setup.prod.seen == [] and setup.github.seen == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--only", "github,nothing"), "--only: unknown group 'nothing'"),
        (("--only", ","), "names no group"),
        (("--kubeconfig", "/nonexistent/kubeconfig"), "--kubeconfig /nonexistent/kubeconfig is not a file"),
        (("--registry", "http://127.0.0.1:5000/ns"), "has a scheme"),
    ],
)
def test_bad_usage_exits_2_before_anything_is_read(setup, arguments, message):
    result = setup.run(*arguments)
    assert result.code == 2
    assert message in result.stderr
    assert setup.github.seen == [] and setup.prod.seen == []


def test_an_api_url_that_is_not_https_is_bad_usage(setup, monkeypatch):
    monkeypatch.setenv("GITHUB_API_URL", "http://api.github.example")
    assert setup.run().code == 2


def test_a_staging_kubeconfig_from_the_environment_that_names_no_file(setup, monkeypatch, tmp_path):
    monkeypatch.setenv("STAGING_KUBECONFIG", str(tmp_path / "missing"))
    result = setup.run("--only", "clusters", "--stack", "staging", kubeconfigs=False)
    assert result.code == 1
    assert result.check("clusters.staging")["status"] == "failed"


def test_a_kubeconfig_written_elsewhere_reads_the_same(setup, tmp_path):
    path = write_kubeconfig(tmp_path / "other", setup.prod.url, KUBE_TOKEN)
    result = setup.run("--only", "clusters", "--stack", "prod", "--kubeconfig", str(path), kubeconfigs=False)
    assert result.code == 0, result.stdout
