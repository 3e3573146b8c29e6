"""The RhodeCode 1.7.2 harness really starts RhodeCode 1.7.2 with an admin and a non-admin key."""
from __future__ import annotations

import json
import urllib.request

import pytest

pytestmark = pytest.mark.rhodecode17


def post(rhodecode17, key, method, args=None) -> bytes:
    body = json.dumps({"id": 7, "api_key": key, "method": method, "args": args or {}}).encode()
    req = urllib.request.Request(rhodecode17.api_url, body, {"Content-Type": "text/plain"})
    with urllib.request.urlopen(req, timeout=30) as res:
        assert res.status == 200
        assert res.headers["Content-Type"] == "application/json"
        return res.read()


def call(rhodecode17, key, method, args=None) -> dict:
    return json.loads(post(rhodecode17, key, method, args))


def test_admin_key_is_admin(rhodecode17):
    res = call(rhodecode17, rhodecode17.admin_key, "get_user")
    assert res["id"] == 7
    assert res["error"] is None
    assert res["result"]["username"] == rhodecode17.admin_username
    assert res["result"]["admin"] is True
    assert res["result"]["permissions"]["global"] == ["hg.admin"]


def test_user_key_is_non_admin(rhodecode17):
    res = call(rhodecode17, rhodecode17.user_key, "get_user")
    assert res["error"] is None
    assert res["result"]["username"] == rhodecode17.user_username
    assert res["result"]["admin"] is False
    assert rhodecode17.user_key != rhodecode17.admin_key
    # an admin-only method: RhodeCode 1.7.2's own refusal
    assert call(rhodecode17, rhodecode17.user_key, "get_users") == {
        "id": 7, "result": None, "error": "Access was denied to this resource."}


def test_wrong_key_is_rejected(rhodecode17):
    raw = post(rhodecode17, "0" * 40, "get_user")
    assert json.loads(raw) == {"id": 7, "result": None, "error": "Invalid API KEY"}
    # Python 2's dict order, one line, a space after ':' and ','
    assert raw == b'{"error": "Invalid API KEY", "id": 7, "result": null}'


def test_get_repos(rhodecode17):
    res = call(rhodecode17, rhodecode17.admin_key, "get_repos")
    assert res == {"id": 7, "result": res["result"], "error": None}
    assert isinstance(res["result"], list)
    assert call(rhodecode17, rhodecode17.user_key, "get_repos")["error"] is None


def test_it_is_rhodecode_1_7(rhodecode17):
    # create_gist is new in RhodeCode 1.7
    res = call(rhodecode17, rhodecode17.admin_key, "create_gist",
               {"files": {"hello.txt": {"content": "hello\n"}}, "description": "harness"})
    assert res["error"] is None
    assert res["result"]["msg"] == "created new gist"
    gist = res["result"]["gist"]
    assert gist["type"] == "public" and gist["description"] == "harness" and gist["expires"] == -1
    assert gist["url"] == f"{rhodecode17.url}/_admin/gists/{gist['access_id']}"
    # get_user_group is the name from RhodeCode 2.x on; 1.7.2 has get_users_group(usersgroupid)
    assert call(rhodecode17, rhodecode17.admin_key, "get_user_group", {"usergroupid": "x"}) == {
        "id": 7, "result": None, "error": "No such method: get_user_group"}
    assert call(rhodecode17, rhodecode17.admin_key, "get_users_group", {"usersgroupid": "x"}) == {
        "id": 7, "result": None, "error": "user group `x` does not exist"}
