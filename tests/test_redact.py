"""redact_url: the one rule for passwords in URLs."""

from __future__ import annotations

import pytest

from treadle._redact import redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:secret@db/shop", "postgresql://app:***@db/shop"),
        ("https://u:p@ss@host:8443/a/b?c=d@e", "https://u:***@host:8443/a/b?c=d@e"),
        ("https://user@host/x", "https://user@host/x"),
        ("https://host/x@y:z", "https://host/x@y:z"),
        ("/var/lib/broker.db", "/var/lib/broker.db"),
        ("sqlite:///a:b@c", "sqlite:///a:b@c"),
    ],
)
def test_only_the_password_of_the_authority_is_hidden(url: str, shown: str) -> None:
    assert redact_url(url) == shown
