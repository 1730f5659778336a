"""The webhook URLs of release notifications: optional Actions secrets, from Pulumi secret config only."""

from __future__ import annotations

import pytest

from infra.config import parse_settings
from infra.render import SECRET_MASK
from pipelines.core.errors import InputError

NS = "percolate-platform"
SECRET = "github:index/actionsSecret:ActionsSecret"


def test_absent_webhook_config_declares_no_webhook_secret(config, render):
    names = [s.inputs["secretName"] for s in render(config).of_type(SECRET)]
    assert "SLACK_WEBHOOK_URL" not in names and "DISCORD_WEBHOOK_URL" not in names


def test_webhook_config_becomes_secret_actions_secrets(config, render):
    config[f"{NS}:slackWebhookUrl"] = {"secure": "v1:slack"}
    config[f"{NS}:discordWebhookUrl"] = {"secure": "v1:discord"}
    secrets = {s.inputs["secretName"]: s for s in render(config).of_type(SECRET)}
    assert sorted(secrets) == ["DISCORD_WEBHOOK_URL", "PERCOLATE_GIT_PAT", "SLACK_WEBHOOK_URL"]
    for name in ("SLACK_WEBHOOK_URL", "DISCORD_WEBHOOK_URL"):
        assert secrets[name].inputs["value"] == SECRET_MASK and secrets[name].secrets == ("value",)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (f"{NS}:slackWebhookUrl", "https://hooks.slack.com/services/T0/B0/abc"),
        (f"{NS}:discordWebhookUrl", "anything"),
        ("kubernetes:context", "see https://hooks.slack.com/services/T0/B0/abc"),
        ("kubernetes:cluster", "https://discord.com/api/webhooks/123/abc"),
    ],
)
def test_a_webhook_url_in_plain_text_is_refused_naming_the_key(config, settings_input, key, value):
    config[key] = value
    with pytest.raises(InputError) as raised:
        parse_settings(*settings_input(config))
    assert raised.value.message.startswith(f"stack config {key}: holds a secret in plain text")
    assert "https://" not in raised.value.message + str(raised.value.hint)
