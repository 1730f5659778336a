"""The Pulumi program of the percolate-platform project, one ComponentResource module per concern.

`__main__.py` reads the stack config and hands it to the stack's wiring: `staging`
(`percolate-platform:environment: staging`: Argo CD only, pinned to the newest RC build
in the registry) or `production`, which validates it up front (`config`) and wires the
components: repository settings, branch protection, release-tag rules, Actions policy
(with the fork pull request dynamic provider), deployment environments, Actions
secrets and Argo CD; `registry` cross-checks pinned digests. `render` runs the same
program under Pulumi's mocks for offline review, and `policy` checks what it declares.
"""
