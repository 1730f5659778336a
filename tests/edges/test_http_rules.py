"""The HTTP layer's parts that hold no connection: the https-or-loopback rule, URLs in messages, the
choice of proxy, and the Link and Retry-After parsers (properties with hypothesis, and examples)."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.core.errors import InputError
from pipelines.edges.http import (
    HttpClient,
    Link,
    RetryPolicy,
    parse_link_header,
    parse_retry_after,
    proxy_for,
    require_secure_url,
    safe_url,
)
from pipelines.edges.http_rules import is_clean_credential

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
FAST = RetryPolicy(max_time=30, base_delay=0.01, max_delay=0.02)


def test_plain_http_is_refused_except_to_loopback_naming_the_role_and_the_fix():
    for url in ("http://127.0.0.1:5000/x", "http://[::1]/x", "http://localhost/x", "https://example.com/x"):
        require_secure_url(url, "index", "https://HOST/simple/")
    with pytest.raises(InputError) as raised:
        require_secure_url("http://user:pw@pypi.example/simple/?k=1", "index", "https://HOST/simple/")
    assert raised.value.message == "index 'http://pypi.example/simple/' is not an https URL"
    assert raised.value.hint and "https://HOST/simple/" in raised.value.hint and "loopback" in raised.value.hint
    with HttpClient(policy=FAST) as client, pytest.raises(InputError, match="is not an https URL"):
        client.request("GET", "http://example.invalid/x")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pw@ghcr.io:8443/v2/x?sig=1#frag", "https://ghcr.io:8443/v2/x"),
        ("http://[::1]:5000/a", "http://[::1]:5000/a"),
        ("https://files.example/f.whl?X-Amz-Signature=abc", "https://files.example/f.whl"),
    ],
)
def test_urls_in_messages_lose_userinfo_and_query(url, shown):
    assert safe_url(url) == shown


@pytest.mark.parametrize(
    ("no_proxy", "host", "port", "proxied"),
    [
        ("", "ghcr.io", 443, True),
        ("*", "ghcr.io", 443, False),
        ("ghcr.io", "ghcr.io", 443, False),
        (".io", "ghcr.io", 443, False),
        ("*.example.com", "pypi.example.com", 443, False),
        ("cr.io", "ghcr.io", 443, True),
        ("ghcr.io:8443", "ghcr.io", 443, True),
        ("ghcr.io:443", "ghcr.io", 443, False),
        ("10.0.0.0/8", "10.1.2.3", 443, False),
        ("10.0.0.0/8", "11.1.2.3", 443, True),
        ("", "127.0.0.1", 443, False),
        ("", "localhost", 443, False),
    ],
)
def test_proxy_choice(no_proxy, host, port, proxied):
    environ = {"https_proxy": "proxy.internal:3128", "NO_PROXY": no_proxy}
    proxy = proxy_for(host, port, environ)
    assert (proxy is not None) == proxied
    if proxy is not None:
        assert (proxy.host, proxy.port, dict(proxy.headers)) == ("proxy.internal", 3128, {})


def test_a_bad_proxy_setting_is_refused_without_echoing_it():
    with pytest.raises(InputError) as raised:
        proxy_for("ghcr.io", 443, {"HTTPS_PROXY": "socks5://user:s3cret@proxy:1080"})
    assert "HTTPS_PROXY" in raised.value.message and "s3cret" not in str(raised.value)


_token = st.text("abcdefghijklmnopqrstuvwxyz0123456789-._", min_size=1, max_size=8)
_target = st.text("abcdefghijklmnopqrstuvwxyz0123456789/?&=%.:-_", max_size=30)
_value = st.text(st.characters(codec="latin-1", exclude_characters="\r\n\x00"), max_size=20)
_links = st.lists(
    st.builds(
        Link,
        _target,
        st.lists(st.tuples(_token, _value), max_size=3).map(
            lambda params: tuple((name, " ".join(value.split())) for name, value in params)
        ),
    ),
    max_size=4,
)


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@given(_links)
def test_link_headers_round_trip_whatever_the_quoted_values_hold(links):
    header = ", ".join(
        f"<{link.target}>" + "".join(f"; {name}={_quoted(value)}" for name, value in link.params) for link in links
    )
    assert parse_link_header(header) == tuple(links)


@given(_target, st.lists(st.sampled_from(["next", "prev", "last", "Next"]), min_size=1, max_size=3))
def test_the_first_rel_parameter_names_the_relations(target, rels):
    (link,) = parse_link_header(f'<{target}>; rel="{" ".join(rels)}"; rel="ignored"')
    assert link.rels == tuple(rel.lower() for rel in rels)


@given(st.text(max_size=80))
def test_the_link_parser_never_crashes(text):
    assert all(isinstance(link, Link) for link in parse_link_header(text))


@given(st.integers(0, 10**9))
def test_retry_after_seconds(seconds):
    assert parse_retry_after(str(seconds), NOW) == seconds
    assert parse_retry_after(f"  {seconds} ", NOW) == seconds


@given(st.integers(-86_400, 10 * 86_400))
def test_retry_after_dates_count_from_now_and_never_go_negative(offset):
    header = format_datetime(NOW + timedelta(seconds=offset), usegmt=True)
    assert parse_retry_after(header, NOW) == max(0, offset)


@given(st.text(max_size=40).filter(lambda text: not text.strip().isdigit()))
def test_unreadable_retry_after_is_ignored_or_read_as_a_date(text):
    wait = parse_retry_after(text, NOW)
    assert wait is None or wait >= 0


@given(st.text())
def test_a_credential_is_clean_unless_it_holds_a_control_character_or_a_surrogate(text):
    """The rule (no Cc, no Cs; a format character such as U+200B is allowed), whether or not the text is printable
    (the check loads unicodedata only for text that is not)."""
    assert is_clean_credential(text) is all(unicodedata.category(c) not in ("Cc", "Cs") for c in text)
    assert is_clean_credential("t0ken\u200b")
    assert not is_clean_credential("t0ken\r\n") and not is_clean_credential("\ud800")
