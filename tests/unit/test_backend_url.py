"""A password in backend.url (HTTP basic authentication) is hidden wherever the URL is printed.

The startup line itself: tests/integration/test_operations.py."""
from __future__ import annotations

import pytest

from gateway.backend import printable_url


@pytest.mark.parametrize("url, shown", [
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("https://svc@kallithea.example.com/kal", "https://svc@kallithea.example.com/kal"),
    ("http://svc:s3cret@127.0.0.1:5000/kal", "http://svc:***@127.0.0.1:5000/kal"),
    ("http://svc:p%40ss%3Aword@[::1]:5000/", "http://svc:***@[::1]:5000/"),
])
def test_printable_url(url, shown):
    assert printable_url(url) == shown
