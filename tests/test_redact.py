"""redact_url and redact_text: the one rule for credentials in URLs."""

from __future__ import annotations

import pytest

from treadle._redact import redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:secret@db/shop", "postgresql://app:***@db/shop"),
        ("https://u:p@ss@host:8443/a/b?c=d@e", "https://u:***@host:8443/a/b?c=d@e"),
        ("https://host/x@y:z", "https://host/x@y:z"),
        ("/var/lib/broker.db", "/var/lib/broker.db"),
        ("sqlite:///a:b@c", "sqlite:///a:b@c"),
    ],
)
def test_the_password_of_the_authority_is_hidden(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_a_user_without_a_password_is_a_token_and_hidden() -> None:
    assert redact_url("https://ghp_TOKEN123@host/x") == "https://***@host/x"
    assert redact_url("https://user@host/x") == "https://***@host/x"


@pytest.mark.parametrize(
    "param", ["token", "access_token", "sig", "X-Amz-Signature", "api_key", "password"]
)
def test_credential_query_parameters_are_hidden(param: str) -> None:
    url = f"https://host/f.tar?v=2&{param}=S3CRET&x=1#frag"
    assert redact_url(url) == f"https://host/f.tar?v=2&{param}=***&x=1#frag"


def test_other_query_parameters_stay() -> None:
    assert redact_url("https://host/f?version=2&os=linux") == "https://host/f?version=2&os=linux"


def test_urls_inside_text_are_redacted_and_the_rest_kept() -> None:
    text = "cannot reach postgresql://u:pw@h/db (and https://T@x/y?token=z): refused"
    assert redact_text(text) == (
        "cannot reach postgresql://u:***@h/db (and https://***@x/y?token=***): refused"
    )
    assert redact_text("plain value") == "plain value"
