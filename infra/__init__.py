"""The Pulumi program of the percolate-platform project, one ComponentResource module per concern.

`__main__.py` reads the stack config (validated up front by `config`) and wires the
components: repository settings, branch protection, release-tag rules, Actions policy
(with the fork pull request dynamic provider), deployment environments, Actions
secrets and Argo CD; `registry` cross-checks pinned digests. `render` runs the same
program under Pulumi's mocks for offline review, and `policy` checks what it declares.
"""
