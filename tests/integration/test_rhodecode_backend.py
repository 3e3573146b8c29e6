"""rcgate with `backend_dialect="rhodecode"` in front of the modern RhodeCode STAND-IN.

The backend here is tests/standin/rhodecode.py: a test stand-in answering the documented
RhodeCode 4.x shapes (doc seed 000), not a real RhodeCode. Every dialect calls through it:
modern callers must get its answers untouched, RhodeCode 1.x and Kallithea callers their
own shapes and error texts.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
import yaml

from gateway.app import create_app

from .conftest import REPO_ROOT, Rpc, gateway_config

RC1, K, RC4 = "rhodecode1", "kallithea", "rhodecode"
# RhodeCode 1.5.4 - 1.7.2 user fields (FACTS 5.1) and Kallithea 0.2 - 0.7 user fields
USER_FIELDS_1X = {"user_id", "username", "firstname", "lastname", "email", "emails", "api_key", "active", "admin",
                  "ldap_dn", "last_login", "ip_addresses"}
USER_FIELDS_K = {"user_id", "username", "firstname", "lastname", "email", "emails", "active", "admin"}
NOT_SUPPORTED = "Method `{m}` is not supported by the server behind this gateway: {reason}"


@pytest.fixture
async def rc(rhodecode_standin, aiohttp_client, tmp_path) -> Rpc:
    """rcgate (auto inbound, Kallithea fallback) with the stand-in as its modern RhodeCode backend."""
    audit = tmp_path / "audit.jsonl"
    app = create_app(gateway_config(rhodecode_standin.url, audit, backend_dialect="rhodecode"))
    client = await aiohttp_client(app)
    return Rpc(client, rhodecode_standin, audit)


@pytest.fixture
async def seeded(rc):
    """A user `alice` in user group `devs`, a public repository `proj` with a clone URI and permissions."""
    await rc.direct_ok("create_user", {"username": "alice", "email": "alice@example.com", "firstname": "Alice"})
    await rc.direct_ok("create_user_group", {"group_name": "devs", "description": "developers"})
    await rc.direct_ok("add_user_to_user_group", {"usergroupid": "devs", "userid": "alice"})
    await rc.direct_ok("create_repo", {"repo_name": "proj", "repo_type": "hg", "clone_uri": "http://example.com/r"})
    await rc.direct_ok("grant_user_permission", {"repoid": "proj", "userid": "alice", "perm": "repository.write"})
    await rc.direct_ok("grant_user_group_permission", {"repoid": "proj", "usergroupid": "devs",
                                                       "perm": "repository.read"})
    rc.kallithea.received.clear()
    return rc


def sent(rc) -> list[dict]:
    """The JSON-RPC bodies the stand-in received (i.e. what rcgate sent), oldest first."""
    return [r.body for r in rc.kallithea.received]


async def raw_gw(rc, method, args, *, id=42, dialect=None, key=None, key_field="auth_token") -> bytes:
    path = f"/{dialect}/_admin/api" if dialect else "/_admin/api"
    body = {"id": id, key_field: key or rc.kallithea.admin_key, "method": method, "args": args}
    response = await rc.client.post(path, data=json.dumps(body), headers={"Content-Type": "text/plain"})
    assert response.status == 200
    return await response.read()


async def raw_direct(rc, method, args, *, id=42, key=None, key_field="auth_token") -> bytes:
    body = {"id": id, key_field: key or rc.kallithea.admin_key, "method": method, "args": args}
    async with aiohttp.ClientSession() as session:
        async with session.post(rc.kallithea.api_url, data=json.dumps(body)) as response:
            return await response.read()


def unsupported_reason(method: str) -> str:
    spec = yaml.safe_load((REPO_ROOT / "mappings" / "rhodecode.yaml").read_text())
    return spec["methods"][method]["unsupported"]


# ------------------------------------------------------------------ modern callers: same dialect, untouched


@pytest.mark.parametrize("method,args", [
    ("get_repo", {"repoid": "proj"}),
    ("get_repos", {}),
    ("get_user_group", {"usergroupid": "devs"}),
    ("get_user_groups", {}),
    ("get_user", {"userid": "alice"}),
    ("get_users", {}),
    ("get_ip", {}),
    ("lock", {"repoid": "proj"}),
    ("get_user", {"userid": "nobody"}),  # an error answer, also untouched
])
async def test_modern_caller_gets_the_standin_answer_byte_for_byte(seeded, method, args):
    direct = await raw_direct(seeded, method, args)
    through = await raw_gw(seeded, method, args)
    assert through == direct
    assert through.startswith(b'{\n    "id": 42,\n')  # pretty-printed, indent 4


async def test_modern_caller_write_calls_answer_rc4_shapes(seeded):
    rc = seeded
    assert await rc.ok("create_repo", {"repo_name": "fresh", "repo_type": "git"}, key_field="auth_token") == {
        "msg": "Created new repository `fresh`", "success": True, "task": None}
    assert await rc.ok("fork_repo", {"repoid": "fresh", "fork_name": "fresh-fork"}, key_field="auth_token") == {
        "msg": "Created fork of `fresh` as `fresh-fork`", "success": True, "task": None}
    assert await rc.ok("pull", {"repoid": "proj"}, key_field="auth_token") == {
        "msg": "Pulled from `proj`", "repository": "proj"}
    made = await rc.ok("create_user_group", {"group_name": "ops"}, key_field="auth_token")
    assert made["msg"] == "created new user group `ops`" and made["user_group"]["users"] == []
    got = await rc.ok("get_user_group", {"usergroupid": "devs"}, key_field="auth_token")
    assert [u["username"] for u in got["users"]] == ["alice"]          # users: user objects
    assert {m["origin"] for m in got["members"]} == {"owner"}          # members: the permission list
    assert [r["method"] for r in sent(rc)] == ["create_repo", "fork_repo", "pull", "create_user_group",
                                               "get_user_group"]


async def test_modern_caller_keeps_the_deprecation_warning_of_show_ip(seeded):
    direct = json.loads(await raw_direct(seeded, "show_ip", {}))
    assert direct["DEPRECATION_WARNING"] == "DEPRECATED METHOD Please use method `get_ip` instead."
    through = json.loads(await raw_gw(seeded, "show_ip", {}))
    assert through == direct


async def test_modern_caller_gets_rc4_validation_error_objects_untouched(seeded):
    answer = await seeded.gw("create_repo", {"repo_name": "proj", "repo_type": "hg"}, key_field="auth_token")
    assert answer["error"] == {"unique_repo_name": "Repository with name `proj` already exists"}


async def test_modern_caller_errors_pass_through(seeded):
    rc = seeded
    assert await rc.gw("get_user", {}, key="z" * 40, key_field="auth_token", id="e1") == {
        "id": "e1", "result": None, "error": "Invalid API KEY"}
    assert await rc.gw("get_users", {}, key=rc.kallithea.user_key, key_field="auth_token", id=2) == {
        "id": 2, "result": None, "error": "Access was denied to this resource."}
    assert await rc.gw("get_repo", {"repoid": "nope"}, key_field="auth_token", id=3) == {
        "id": 3, "result": None, "error": "repository `nope` does not exist"}


# ------------------------------------------------------------------ what reaches the backend


@pytest.mark.parametrize("dialect,key_field", [(RC4, "auth_token"), (RC4, "api_key"), (K, "api_key"),
                                               (RC1, "api_key")])
async def test_key_travels_as_auth_token_and_nothing_is_added(seeded, dialect, key_field):
    rc = seeded
    method = "get_users_group" if dialect == RC1 else "get_user_group"
    arg = "usersgroupid" if dialect == RC1 else "usergroupid"
    answer = await rc.gw(method, {arg: "devs"}, dialect=dialect, key_field=key_field, key=rc.kallithea.user_key)
    assert answer["error"] is None, answer
    (received,) = rc.kallithea.received
    assert set(received.body) == {"id", "auth_token", "method", "args"}  # no api_key field
    assert received.body["auth_token"] == rc.kallithea.user_key           # the caller's own key, not rcgate's
    assert received.body["method"] == "get_user_group"
    assert received.body["args"] == {"usergroupid": "devs"}
    headers = {h.lower() for h in received.headers}
    assert not headers & {"authorization", "cookie", "proxy-authorization"}


async def test_bad_key_is_forwarded_as_sent_and_keyless_calls_never_leave(seeded):
    rc = seeded
    await rc.gw("get_user", {}, key="k" * 40, dialect=K)
    assert [b["auth_token"] for b in sent(rc)] == ["k" * 40]
    rc.kallithea.received.clear()
    answer = await rc.post("/_admin/api", b'{"id": 1, "method": "get_user", "args": {}}')
    assert answer["error"] == "Incorrect JSON query missing 'api_key'"
    assert sent(rc) == []


# ------------------------------------------------------------------ RhodeCode 1.x callers


async def test_rhodecode1_users_group_calls(seeded):
    rc = seeded
    got = await rc.ok("get_users_group", {"usersgroupid": "devs"}, dialect=RC1)
    assert set(got) == {"users_group_id", "group_name", "active", "members"}
    assert [m["username"] for m in got["members"]] == ["alice"]
    assert set(got["members"][0]) == USER_FIELDS_1X              # user objects, no permission list
    assert got["members"][0]["ldap_dn"] is None                  # built-in account: no LDAP DN
    listed = await rc.ok("get_users_groups", {}, dialect=RC1)
    assert [set(g) for g in listed] == [{"users_group_id", "group_name", "active"}]
    created = await rc.ok("create_users_group", {"group_name": "qa"}, dialect=RC1)
    assert created["msg"] == "created new user group `qa`"
    assert set(created) == {"msg", "users_group"}
    assert set(created["users_group"]) == {"users_group_id", "group_name", "active", "members"}
    added = await rc.ok("add_user_to_users_group", {"usersgroupid": "qa", "userid": "alice"}, dialect=RC1)
    assert added == {"success": True, "msg": "added member `alice` to user group `qa`"}
    assert [b["method"] for b in sent(rc)] == ["get_user_group", "get_user_groups", "create_user_group",
                                               "add_user_to_user_group"]


async def test_rhodecode1_pull_answers_a_bare_string(seeded):
    assert await seeded.ok("pull", {"repoid": "proj"}, dialect=RC1) == "Pulled from `proj`"
    assert await seeded.ok("pull", {"repo_name": "proj"}) == "Pulled from `proj`"  # 1.3 spelling, auto-detected


async def test_rhodecode1_create_repo_answers_the_new_repository_via_fetch(seeded):
    rc = seeded
    created = await rc.ok("create_repo", {"repo_name": "r1", "repo_type": "hg", "landing_rev": "tip"}, dialect=RC1)
    assert set(created) == {"msg", "repo"}
    assert created["msg"] == "Created new repository `r1`"
    repo = created["repo"]
    assert repo["repo_name"] == "r1" and repo["owner"] == "admin"
    assert repo["landing_rev"] == "tip"                          # 1.x: a string, not ["rev", "tip"]
    assert "permissions" not in repo and "lock_reason" not in repo
    assert all("origin" not in m for m in repo["members"])
    assert repo == await rc.ok("get_repo", {"repoid": "r1"}, dialect=RC1)
    first, fetch = sent(rc)[:2]
    assert first["method"] == "create_repo" and first["args"]["landing_rev"] == "rev:tip"
    assert fetch["method"] == "get_repo" and fetch["args"] == {"repoid": "r1"}


async def test_rhodecode1_get_repo_members(seeded):
    repo = await seeded.ok("get_repo", {"repoid": "proj"}, dialect=RC1)
    types = {m["name"]: m["type"] for m in repo["members"]}
    assert types["alice"] == "user" and types["devs"] == "users_group"   # the 1.x tag for group entries
    assert repo["last_changeset"] == {"author": "", "date": "1970-01-01T00:00:00", "message": "",
                                      "raw_id": "0" * 40, "revision": -1, "short_id": "000000000000"}


async def test_rhodecode1_show_ip_and_lock(seeded):
    rc = seeded
    shown = await rc.ok("show_ip", {"userid": "admin"}, dialect=RC1)
    assert shown == {"ip_addr_server": "127.0.0.1",
                     "user_ips": [{"ip_addr": "127.0.0.1/32", "ip_range": ["127.0.0.1", "127.0.0.1"]}]}
    assert sent(rc)[-1]["method"] == "get_ip"                     # the canonical method, not the deprecated alias
    locked = await rc.ok("lock", {"repoid": "proj", "locked": True}, dialect=RC1)
    assert set(locked) == {"repo", "locked", "locked_since", "locked_by", "msg"}    # the RC 1.7 object
    assert locked["msg"] == "User `admin` set lock state for repo `proj` to `True`"
    assert locked["locked"] is True and isinstance(locked["locked_since"], float)
    query = await rc.ok("lock", {"repoid": "proj"}, dialect=RC1)
    assert set(query) == {"repo", "locked", "locked_since", "locked_by", "msg"} and query["locked"] is True


async def test_rhodecode1_errors(seeded):
    rc = seeded
    assert await rc.gw("get_users_group", {"usersgroupid": "devs"}, key="y" * 40, id=9) == {
        "id": 9, "result": None, "error": "Invalid API KEY"}
    assert await rc.gw("get_users_group", {"usersgroupid": "nope"}, id=9) == {
        "id": 9, "result": None, "error": "user group `nope` does not exist"}


# ------------------------------------------------------------------ Kallithea callers


async def test_kallithea_user_group_members_are_user_objects(seeded):
    rc = seeded
    got = await rc.ok("get_user_group", {"usergroupid": "devs"}, dialect=K)
    assert set(got) == {"users_group_id", "group_name", "group_description", "active", "owner", "members"}
    assert [m["username"] for m in got["members"]] == ["alice"]
    assert set(got["members"][0]) == USER_FIELDS_K
    listed = await rc.ok("get_user_groups", {}, dialect=K)
    assert [[m["username"] for m in g["members"]] for g in listed] == [["alice"]]
    me = await rc.ok("get_user", {}, dialect=K)
    assert set(me) == USER_FIELDS_K | {"permissions"}            # no api_key(s) through the Kallithea API


async def test_kallithea_create_and_fork_repo_have_no_task(seeded):
    rc = seeded
    assert await rc.ok("create_repo", {"repo_name": "kr", "repo_type": "git"}, dialect=K) == {
        "msg": "Created new repository `kr`", "success": True}
    assert await rc.ok("fork_repo", {"repoid": "kr", "fork_name": "kf"}, dialect=K) == {
        "msg": "Created fork of `kr` as `kf`", "success": True}
    repo = await rc.ok("get_repo", {"repoid": "proj"}, dialect=K)
    assert repo["landing_rev"] == ["rev", "tip"]
    assert not {"permissions", "lock_reason", "locked_by", "locked_date", "enable_locking"} & set(repo)
    assert {m["name"]: m["type"] for m in repo["members"]}["devs"] == "user_group"
    assert all(set(m) == {"name", "type", "permission"} for m in repo["members"])


async def test_kallithea_get_ip_and_pull(seeded):
    rc = seeded
    assert await rc.ok("get_ip", {}, dialect=K) == {
        "server_ip_addr": "127.0.0.1",
        "user_ips": [{"ip_addr": "127.0.0.1/32", "ip_range": ["127.0.0.1", "127.0.0.1"]}]}
    assert await rc.ok("pull", {"repoid": "proj"}, dialect=K) == {"msg": "Pulled from `proj`", "repository": "proj"}


async def test_kallithea_errors_are_reworded(seeded):
    rc = seeded
    assert await rc.gw("get_user", {}, key="b" * 40, dialect=K, id=5) == {
        "id": 5, "result": None, "error": "Invalid API key"}      # RC4: "Invalid API KEY"
    answer = await rc.gw("create_repo", {"repo_name": "proj", "repo_type": "hg"}, dialect=K)
    assert answer["error"] == "repo `proj` already exist"          # RC4: {"unique_repo_name": "Repository with ..."}
    answer = await rc.gw("create_repo", {"repo_name": "nogroup/r", "repo_type": "hg"}, dialect=K)
    assert answer["error"] == "repo group `nogroup` not found"     # RC4: {"repo_group": "Repository group ..."}
    answer = await rc.gw("grant_user_permission", {"repoid": "proj", "userid": "alice", "perm": "repository.bogus"},
                         dialect=K)
    assert answer["error"] == "permission `repository.bogus` does not exist"   # RC4 adds a trailing dot


async def test_kallithea_caller_of_a_method_the_backend_lacks(seeded):
    # the stand-in, like an older 4.x, has no get_repo_nodes: its "No such method" must not become
    # Kallithea's "Method not allowed" (the text of `_`-prefixed names)
    answer = await seeded.gw("get_repo_nodes", {"repoid": "proj", "revision": "tip", "root_path": "/"}, dialect=K)
    assert answer["error"] == "No such method: get_repo_nodes"


@pytest.mark.parametrize("method,args", [
    ("get_changesets", {"repoid": "proj"}),
    ("get_pullrequest", {"pullrequest_id": 1}),
    ("comment_pullrequest", {"pull_request_id": 1}),
    ("edit_reviewers", {"pull_request_id": 1}),
])
async def test_kallithea_only_methods_are_refused_with_the_reason(seeded, method, args):
    answer = await seeded.gw(method, args, dialect=K, id=7)
    assert answer == {"id": 7, "result": None,
                      "error": NOT_SUPPORTED.format(m=method, reason=unsupported_reason(method))}
    assert sent(seeded) == []                                       # refused, never passed through


async def test_kallithea_create_repo_without_repo_type(seeded):
    answer = await seeded.gw("create_repo", {"repo_name": "untyped"}, dialect=K)
    assert answer["error"] is None, answer
    repo = await seeded.gw("get_repo", {"repoid": "untyped"}, dialect=K)
    assert repo["result"]["repo_type"] == "hg"  # rhodecode.yaml `defaults`: what 1.x and Kallithea servers chose


# ------------------------------------------------------------------ the stand-in itself


async def test_standin_follows_rc4_envelope_rules(rc):
    direct = rc.direct_raw
    admin = rc.kallithea.admin_key
    # the method is checked before the key
    answer = await direct({"id": 1, "auth_token": "bad", "method": "get_usr", "args": {}})
    assert answer["error"].startswith("No such method: get_usr. Similar methods: get_user_locks, ")
    assert (await direct({"id": 1, "auth_token": "bad", "method": "get_user", "args": {}}))["error"] == \
        "Invalid API KEY"
    # api_key first; a falsy one falls back to auth_token
    assert (await direct({"id": 1, "api_key": "", "auth_token": admin, "method": "get_user", "args": {}}))["error"] \
        is None
    assert (await direct({"id": 1, "method": "get_user", "args": {}}))["error"] == \
        "Incorrect JSON data. Missing 'api_key or auth_token'"
    assert await direct({"id": 3, "auth_token": admin, "method": "get_repo", "args": {"x": 1}}) == {
        "id": 3, "result": None, "error": "Missing non optional `repoid` arg in JSON DATA"}
    # extra arguments are dropped silently
    assert (await direct({"id": 4, "auth_token": admin, "method": "get_users", "args": {"x": 1}}))["error"] is None
    # a falsy id: RC4 answers the bare string ""
    async with aiohttp.ClientSession() as session:
        body = json.dumps({"id": 0, "auth_token": admin, "method": "get_users", "args": {}})
        async with session.post(rc.kallithea.api_url, data=body) as response:
            assert await response.read() == b'""'
        async with session.put(rc.kallithea.api_url, data=b"{}") as response:
            assert (await response.json())["error"] == 'unsupported request method "PUT". Please use POST'


async def test_standin_non_admin_and_hidden_objects(rc):
    user, admin = rc.kallithea.user_key, rc.kallithea.admin_key
    await rc.direct_ok("create_repo", {"repo_name": "secret", "repo_type": "hg", "private": True})
    assert (await rc.direct("get_repo", {"repoid": "secret"}, key=user))["error"] == \
        "repository `secret` does not exist"
    assert (await rc.direct("create_user", {"username": "x", "email": "x@e.com"}, key=user))["error"] == \
        "Access was denied to this resource."
    assert (await rc.direct("get_user", {"userid": "admin"}, key=user))["error"] == \
        "userid is not the same as your user"
    me = await rc.direct_ok("get_user", {}, key=user)
    assert me["username"] == "user1" and me["api_key"] == user and me["admin"] is False
    assert (await rc.direct_ok("get_user", {}, key=admin))["permissions"]["repositories"] == {
        "secret": "repository.admin"}


async def test_standin_runs_as_a_subprocess_without_printing_secrets(tmp_path):
    help_text = subprocess.run([sys.executable, "-m", "tests.standin.rhodecode", "--help"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=60)
    assert help_text.returncode == 0 and "STAND-IN" in help_text.stdout
    tokens = tmp_path / "standin.env"
    env = {**os.environ, "RHODECODE_STANDIN_ADMIN_TOKEN": "a" * 40}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.standin.rhodecode", "--port", "0", "--tokens-file", str(tokens),
        cwd=REPO_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line.startswith("rhodecode stand-in listening on http://127.0.0.1:")
        url = line.split()[-1]
        assert oct(tokens.stat().st_mode & 0o777) == "0o600"
        values = dict(x.split("=", 1) for x in tokens.read_text().split())
        assert values["RHODECODE_STANDIN_URL"] == url and values["RHODECODE_STANDIN_ADMIN_TOKEN"] == "a" * 40
        async with aiohttp.ClientSession() as session:
            body = json.dumps({"id": 1, "auth_token": "a" * 40, "method": "get_user", "args": {}})
            async with session.post(f"{url}/_admin/api", data=body) as response:
                assert (await response.json())["result"]["username"] == "admin"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    printed = line + out.decode() + err.decode()
    assert "a" * 40 not in printed and values["RHODECODE_STANDIN_USER_TOKEN"] not in printed
