"""The Kallithea harness really starts Kallithea 0.7.0 with an admin and a non-admin key."""
from __future__ import annotations

import json
import urllib.request

import pytest

pytestmark = pytest.mark.kallithea


def call(kallithea, key, method, args=None):
    body = json.dumps({"id": 7, "api_key": key, "method": method, "args": args or {}}).encode()
    req = urllib.request.Request(kallithea.api_url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as res:
        assert res.status == 200
        assert res.headers["Content-Type"].startswith("application/json")
        return json.load(res)


def test_admin_key_is_admin(kallithea):
    res = call(kallithea, kallithea.admin_key, "get_user")
    assert res["id"] == 7
    assert res["error"] is None
    assert res["result"]["username"] == kallithea.admin_username
    assert res["result"]["admin"] is True


def test_user_key_is_non_admin(kallithea):
    res = call(kallithea, kallithea.user_key, "get_user")
    assert res["error"] is None
    assert res["result"]["username"] == kallithea.user_username
    assert res["result"]["admin"] is False
    assert kallithea.user_key != kallithea.admin_key


def test_wrong_key_is_rejected(kallithea):
    res = call(kallithea, "0" * 40, "get_user")
    assert res == {"id": 7, "result": None, "error": "Invalid API key"}
