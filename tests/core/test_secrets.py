"""The one redaction: every spelling of a secret, whole or cut anywhere, leaves no WINDOW-long run behind."""

from __future__ import annotations

import json
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.core.secrets import MASK, WINDOW, Secrets, spellings, url_secrets

# Tokens as services mint them, and the characters a password or URL may add.
SECRET_ALPHABET = st.sampled_from('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~/+=%:@"\\é ')
SECRETS = st.text(SECRET_ALPHABET, min_size=WINDOW, max_size=80)
AROUND = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


def windows(text: str) -> set[str]:
    return {text[i : i + WINDOW] for i in range(len(text) - WINDOW + 1)}


def leaked(secret: str, shown: str) -> set[str]:
    """The WINDOW-long runs of `secret`, in any spelling, that `shown` still holds."""
    return {run for form in spellings(secret) for run in windows(form) if run in shown}


@settings(max_examples=300)
@given(secret=SECRETS, data=st.data(), before=AROUND, after=AROUND)
def test_no_window_of_a_secret_survives_in_any_spelling_cut_anywhere(secret, data, before, after):
    known = Secrets()
    known.remember(secret)
    form = data.draw(st.sampled_from(sorted(spellings(secret))), label="spelling")
    start = data.draw(st.integers(0, len(form)), label="cut before")
    end = data.draw(st.integers(start, len(form)), label="cut after")

    shown = known.redact(before + form[start:end] + after)

    assert leaked(secret, shown) == set()


@settings(max_examples=100)
@given(secret=SECRETS, first=st.integers(0, 80), second=st.integers(0, 80))
def test_two_cuts_of_one_secret_in_one_text_are_both_masked(secret, first, second):
    known = Secrets()
    known.remember(secret)

    shown = known.redact(f"head {secret[:first]} middle {secret[second:]} tail")

    assert leaked(secret, shown) == set()


@given(text=AROUND)
def test_text_without_secrets_is_left_as_it_is(text):
    known = Secrets()
    known.remember("ghp_0123456789abcdefABCDEF")

    assert known.redact(text) == text or "ghp_0123" in text


def test_the_spellings_a_server_echoes_are_known():
    secret = 'p@ss/w"rd%58-0123'
    forms = spellings(secret)

    assert secret in forms
    assert quote(secret, safe="") in forms and quote(secret, safe="").replace("%2F", "%2f") in forms
    assert 'p@ss/w"rdX-0123' in forms  # %58 decoded
    assert json.dumps(secret)[1:-1] in forms and json.dumps(secret)[1:-1].replace("/", "\\/") in forms


def test_a_mask_never_splits_a_json_escape():
    known = Secrets()
    known.remember('abcdefgh"ijk')
    document = json.dumps({"echo": 'xx abcdefgh"ijk yy'})

    assert json.loads(known.redact(document)) == {"echo": f"xx {MASK} yy"}


def test_short_secrets_are_masked_whole_and_tiny_ones_ignored():
    known = Secrets()
    known.remember("s3cr")
    known.remember("abc")

    assert known.redact("a s3cr abc") == f"a {MASK} abc"


def test_a_webhook_url_is_secret_from_its_first_id_on():
    slack = url_secrets("https://hooks.slack.com/services/T0ABCDEF1/B0ABCDEF2/XyZsecretTOKEN0123456789")
    discord = url_secrets("https://discord.com/api/webhooks/123456789012345678/tok-en_0123456789?wait=true")

    assert "T0ABCDEF1/B0ABCDEF2/XyZsecretTOKEN0123456789" in slack and "XyZsecretTOKEN0123456789" in slack
    assert "services" not in slack and "hooks.slack.com" not in slack
    assert "123456789012345678/tok-en_0123456789" in discord and "wait=true" in discord
    assert not any("webhooks" in part or part == "api" for part in discord)
    assert url_secrets("https://user:pa55word@example.com/x") == ("user:pa55word",)


def test_a_mask_never_starts_after_a_backslash_that_escapes_its_first_character():
    known = Secrets()
    known.remember("github_pat_11AB0123456789")
    document = json.dumps({"run_url": "https://x/1?\thub_pat_11AB01"})  # a tab, then a run of the secret

    shown = known.redact(document)

    assert json.loads(shown) == {"run_url": f"https://x/1?{MASK}"}


def test_html_double_percent_and_base64_spellings_are_known():
    import base64
    import html

    secret = "Zx8#q!Lm&3<Tk>9%Wp@7^Rv$"
    known = Secrets()
    known.remember(secret)
    numeric = "".join(c if c.isalnum() else f"&#{ord(c)};" for c in secret)
    basic = base64.b64encode(f"x-access-token:{secret}".encode()).decode()
    for echoed in (html.escape(secret), numeric, quote(quote(secret, safe=""), safe=""), basic):
        assert leaked(secret, known.redact(f"echo {echoed} done")) == set()
        assert MASK in known.redact(f"echo {echoed} done")


def test_form_encoded_and_base64url_echoes_are_masked():
    """A token service that echoes its form body shows a password with spaces as `+`; JWT-style services use
    base64url. The echoes are spelt here by the standard library, not by `spellings`."""
    import base64
    from urllib.parse import quote_plus

    secret = "correct horse battery staple/~?"
    known = Secrets()
    known.remember(secret)
    basic_url = base64.urlsafe_b64encode(f"ci-bot:{secret}".encode()).decode()
    for echoed in (quote_plus(secret), quote_plus(secret).lower(), basic_url):
        shown = known.redact(f"grant_type=password&password={echoed}&scope=x")
        # In `ci-bot:SECRET` the first 12 characters of base64 hold the name (bytes 0-8), the last 4 the padding.
        runs = windows(echoed[12:-4] if echoed is basic_url else echoed)
        assert {run for run in runs if run in shown} == set(), shown
