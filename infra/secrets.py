"""Actions secrets, from Pulumi secret config only, in the repository or in the organization (this repository only)."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_github as github


class ActionsSecrets(pulumi.ComponentResource):
    """One Actions secret per value given; values are Pulumi secrets and stay encrypted in the state.

    At organization level the secret's visibility is `selected` with this repository as its
    only member, so no other repository of the organization can read it.
    """

    def __init__(
        self,
        name: str,
        repository_name: pulumi.Input[str],
        repository_id: pulumi.Input[int],
        values: Mapping[str, pulumi.Output[str]],
        at_organization: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("percolate:github:ActionsSecrets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        for secret_name, value in values.items():
            resource_name = f"{name}-{secret_name.lower().replace('_', '-')}"
            if at_organization:
                secret = github.ActionsOrganizationSecret(
                    resource_name, secret_name=secret_name, visibility="selected", value=value, opts=child
                )
                github.ActionsOrganizationSecretRepositories(
                    f"{resource_name}-repositories",
                    secret_name=secret.secret_name,
                    selected_repository_ids=[repository_id],
                    opts=child,
                )
            else:
                github.ActionsSecret(
                    resource_name, repository=repository_name, secret_name=secret_name, value=value, opts=child
                )
        self.register_outputs({"names": sorted(values)})
