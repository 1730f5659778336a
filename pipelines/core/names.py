"""The shapes of outside names: a Kubernetes DNS label and a GitHub OWNER/NAME.

Each is spelled once here and read by the CLI, the deploy rules and `infra/`:

- `DNS_LABEL`: an RFC 1123 label as Kubernetes checks it (namespaces, Services):
  1-63 lower-case letters, digits and hyphens, starting and ending with a letter or digit.
- `GITHUB_LOGIN`: a GitHub user or organisation: 1-39 letters, digits and single
  hyphens, neither first nor last.
- `GITHUB_REPOSITORY_NAME`: a repository's name: 1-100 letters, digits, `.`, `_` and `-`.
- `GITHUB_SLUG`: `OWNER/NAME`, with the groups `owner` and `name`.

`LOGIN_PATTERN` is the login's pattern text, for regexes that embed it (noreply addresses).
"""

from __future__ import annotations

import re

LOGIN_PATTERN = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}"
_NAME_PATTERN = r"[A-Za-z0-9._-]{1,100}"

DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
GITHUB_LOGIN = re.compile(LOGIN_PATTERN)
GITHUB_REPOSITORY_NAME = re.compile(_NAME_PATTERN)
GITHUB_SLUG = re.compile(rf"(?P<owner>{LOGIN_PATTERN})/(?P<name>{_NAME_PATTERN})")
