"""rcgate with `backend_dialect="rhodecode"` in front of the RhodeCode CE 4.22 STAND-IN.

The backend here is tests/standin/rhodecode/: a test stand-in that answers as a recorded real
RhodeCode CE 4.22 did (tests/standin/test_replay_recordings.py keeps it so), not a real RhodeCode.
Modern callers must reach the server with every argument they sent and get its answers untouched;
RhodeCode 1.x and Kallithea callers their own shapes and error texts (every method of both is
walked in test_legacy_callers_on_422.py; this module holds the specific cases).
"""
from __future__ import annotations

import json

import aiohttp
import pytest

from gateway.app import create_app

from .conftest import Rpc, gateway_config

RC1, K, RC4 = "rhodecode1", "kallithea", "rhodecode"


@pytest.fixture
async def rc(rhodecode_standin, aiohttp_client, tmp_path) -> Rpc:
    """rcgate (auto inbound, Kallithea fallback) with the stand-in as its modern RhodeCode backend."""
    audit = tmp_path / "audit.jsonl"
    app = create_app(gateway_config(rhodecode_standin.url, audit, backend_dialect="rhodecode"))
    client = await aiohttp_client(app)
    return Rpc(client, rhodecode_standin, audit)


@pytest.fixture
async def seeded(rc):
    """Besides the recorded world: a user `alice` in user group `devs`, a repository `proj` mirroring the
    recorded demo-hg, with permissions for both."""
    url = rc.kallithea.url
    await rc.direct_ok("create_user", {"username": "alice", "email": "alice@example.com", "firstname": "Alice"})
    await rc.direct_ok("create_user_group", {"group_name": "devs", "description": "developers"})
    await rc.direct_ok("add_user_to_user_group", {"usergroupid": "devs", "userid": "alice"})
    await rc.direct_ok("create_repo", {"repo_name": "proj", "repo_type": "hg", "clone_uri": f"{url}/demo-hg"})
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


async def modern(rc, method, args=None, **kw):
    return await rc.ok(method, args or {}, key_field="auth_token", dialect=RC4, **kw)


# ------------------------------------------------------------------ modern callers: nothing dropped


async def test_create_user_reaches_the_server_with_its_description(rc):
    created = await modern(rc, "create_user", {"username": "dora", "email": "dora@example.com",
                                               "description": "on-call lead", "create_personal_repo_group": False})
    assert created["user"]["description"] == "on-call lead"
    (received,) = rc.kallithea.received
    assert received.body["args"] == {"username": "dora", "email": "dora@example.com", "description": "on-call lead",
                                     "create_personal_repo_group": False}
    await modern(rc, "update_user", {"userid": "dora", "description": "back-up"})
    assert sent(rc)[-1]["args"] == {"userid": "dora", "description": "back-up"}
    assert (await modern(rc, "get_user", {"userid": "dora"}))["description"] == "back-up"


async def test_an_argument_no_file_knows_still_reaches_a_modern_server(rc):
    answer = await rc.gw("get_repos", {"traverse": False, "some_future_flag": 1}, key_field="auth_token", dialect=RC4)
    assert answer["error"] is None
    assert sent(rc)[-1]["args"] == {"traverse": False, "some_future_flag": 1}  # the server decides what it knows


async def test_get_repos_root_lists_the_subtree_only(rc):
    await modern(rc, "create_repo_group", {"group_name": "infra"})
    await modern(rc, "create_repo", {"repo_name": "infra/tools", "repo_type": "git"})
    await modern(rc, "create_repo", {"repo_name": "outside", "repo_type": "git"})
    subtree = await modern(rc, "get_repos", {"root": "infra"})
    assert [r["repo_name"] for r in subtree] == ["infra/tools"]
    assert sent(rc)[-1]["args"] == {"root": "infra"}
    everything = {r["repo_name"] for r in await modern(rc, "get_repos")}
    assert {"infra/tools", "outside", "demo-hg"} <= everything


@pytest.mark.parametrize("method, args", [
    ("get_repo_file", {"repoid": "demo-hg", "commit_id": "tip", "file_path": "README.txt"}),
    ("get_repo_refs", {"repoid": "demo-hg"}),
    ("get_repo_settings", {"repoid": "demo-hg"}),
    ("get_repo_comments", {"repoid": "demo-hg"}),
    ("get_user_locks", {}),
    ("get_pull_request_comments", {"pullrequestid": 1}),
    ("get_audit_logs", {"query": "repo.add"}),
    ("get_user_audit_logs", {}),
    ("search", {"search_query": "README", "search_type": "path"}),
    ("get_repo_fts_tree", {"repoid": "demo-hg", "commit_id": "tip", "root_path": ""}),
    ("get_method", {"pattern": "get_repo_ref*"}),  # no mapping file lists it: forwarded to a modern server
])
async def test_methods_the_server_has_are_served_byte_for_byte(rc, method, args):
    direct = await raw_direct(rc, method, args)
    through = await raw_gw(rc, method, args, dialect=RC4)
    assert json.loads(through)["error"] is None, through[:300]
    assert through == direct


async def test_pull_requests_by_id_alone_and_a_generated_title(rc):
    got = await modern(rc, "get_pull_request", {"pullrequestid": 1})  # 4.22: repoid is optional
    assert got["pull_request_id"] == 1 and got["target"]["repository"] == "demo-pr"
    assert sent(rc)[-1]["args"] == {"pullrequestid": 1}
    made = await modern(rc, "create_pull_request", {"source_repo": "demo-pr", "target_repo": "demo-pr",
                                                    "source_ref": "branch:feature", "target_ref": "branch:master",
                                                    "reviewers": [{"username": "regular_user"}]})
    assert made["msg"] == "Created new pull request `demo-pr#feature to demo-pr`"  # no title: generated
    comment = await modern(rc, "comment_pull_request", {"pullrequestid": made["pull_request_id"], "message": "ok"})
    assert comment["pull_request_id"] == made["pull_request_id"]
    closed = await modern(rc, "close_pull_request", {"pullrequestid": made["pull_request_id"]})
    assert closed["closed"] is True


@pytest.mark.parametrize("method,args", [
    ("get_repo", {"repoid": "proj"}),
    ("get_repos", {}),
    ("get_user_group", {"usergroupid": "devs"}),
    ("get_user", {"userid": "alice"}),
    ("get_ip", {}),
    ("lock", {"repoid": "proj"}),
    ("get_user", {"userid": "nobody"}),  # an error answer, also untouched
])
async def test_modern_caller_gets_the_server_answer_byte_for_byte(seeded, method, args):
    direct = await raw_direct(seeded, method, args)
    through = await raw_gw(seeded, method, args)
    assert through == direct
    assert through.startswith(b'{\n    "error": ')  # 4.x's key order, pretty-printed with indent 4


async def test_modern_caller_keeps_the_deprecation_warning_of_show_ip(seeded):
    direct = json.loads(await raw_direct(seeded, "show_ip", {}))
    assert direct["DEPRECATION_WARNING"] == "DEPRECATED METHOD Please use method `get_ip` instead."
    through = await raw_gw(seeded, "show_ip", {})
    assert through == await raw_direct(seeded, "show_ip", {})
    assert list(json.loads(through)) == ["error", "DEPRECATION_WARNING", "id", "result"]


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
    answer = await rc.gw(method, {arg: "devs"}, dialect=dialect, key_field=key_field, key=rc.kallithea.admin_key)
    assert answer["error"] is None, answer
    (received,) = rc.kallithea.received
    assert set(received.body) == {"id", "auth_token", "method", "args"}  # no api_key field
    assert received.body["auth_token"] == rc.kallithea.admin_key         # the caller's own key, not rcgate's
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


async def test_rhodecode1_create_repo_answers_the_new_repository_via_fetch(seeded):
    rc = seeded
    created = await rc.ok("create_repo", {"repo_name": "r1", "repo_type": "hg", "landing_rev": "tip"}, dialect=RC1)
    assert set(created) == {"msg", "repo"}
    assert created["msg"] == "Created new repository `r1`"
    repo = created["repo"]
    assert repo["repo_name"] == "r1" and repo["owner"] == "admin"
    assert repo["landing_rev"] == "tip"                          # 1.x: a string, not ["rev", "tip"]
    assert not {"permissions", "members", "followers", "lock_reason", "url", "push_uri"} & set(repo)
    first, fetch = sent(rc)[:2]
    assert first["method"] == "create_repo" and first["args"]["landing_rev"] == "rev:tip"
    assert fetch["method"] == "get_repo" and fetch["args"] == {"repoid": "r1"}


async def test_rhodecode1_get_repo_members_carry_the_1x_names(seeded):
    repo = await seeded.ok("get_repo", {"repoid": "proj"}, dialect=RC1)
    members = {m.get("username") or m.get("group_name"): m for m in repo["members"]}
    assert members["alice"]["type"] == "user" and members["alice"]["permission"] == "repository.write"
    assert members["devs"]["type"] == "users_group"              # the 1.x tag for group entries
    assert all("origin" not in m and "name" not in m for m in repo["members"])
    assert "updated_on" not in repo["last_changeset"]            # a 4.22 addition


async def test_rhodecode1_users_get_their_one_api_key(seeded):
    me = await seeded.ok("get_user", {}, dialect=RC1)
    assert me["api_key"] == seeded.kallithea.admin_key and "auth_tokens" not in me  # 4.22 lists the feed token first
    assert me["ldap_dn"] is None                                  # a built-in account


async def test_rhodecode1_lock_and_show_ip(seeded):
    rc = seeded
    shown = await rc.ok("show_ip", {"userid": "admin"}, dialect=RC1)
    assert shown == {"ip_addr_server": "127.0.0.1", "user_ips": []}
    assert sent(rc)[-1]["method"] == "get_ip"                     # the canonical method, not the deprecated alias
    assert (await rc.gw("show_ip", {}, dialect=RC1))["error"] == "Missing non optional `userid` arg in JSON DATA"
    locked = await rc.ok("lock", {"repoid": "proj", "locked": True}, dialect=RC1)
    assert set(locked) == {"repo", "locked", "locked_since", "locked_by", "msg"}    # the RC 1.7 object
    assert locked["locked"] is True and isinstance(locked["locked_since"], float)


async def test_rhodecode1_errors(seeded):
    rc = seeded
    assert await rc.gw("get_users_group", {"usersgroupid": "devs"}, key="y" * 40, id=9) == {
        "id": 9, "result": None, "error": "Invalid API KEY"}
    assert await rc.gw("get_users_group", {"usersgroupid": "nope"}, id=9) == {
        "id": 9, "result": None, "error": "user group `nope` does not exist"}


# ------------------------------------------------------------------ Kallithea callers


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


async def test_kallithea_create_repo_without_repo_type(seeded):
    answer = await seeded.gw("create_repo", {"repo_name": "untyped"}, dialect=K)
    assert answer["error"] is None, answer
    assert sent(seeded)[-1]["args"] == {"repo_name": "untyped", "repo_type": "hg"}  # rhodecode.yaml `defaults`
    repo = await seeded.gw("get_repo", {"repoid": "untyped"}, dialect=K)
    assert repo["result"]["repo_type"] == "hg"


async def test_kallithea_gist_lifetime_strings_are_minutes(seeded):
    made = await seeded.ok("create_gist", {"files": {"a.txt": {"content": "x"}}, "lifetime": "60"}, dialect=K)
    assert sent(seeded)[-1]["args"]["lifetime"] == 60  # kallithea-gist sends strings; 4.22 validates a number
    assert made["gist"]["expires"] > 0 and set(made["gist"]) == {"gist_id", "type", "access_id", "description",
                                                                 "url", "expires", "created_on"}


async def test_kallithea_nested_groups_by_parent(seeded):
    await seeded.ok("create_repo_group", {"group_name": "top"}, dialect=K)
    made = await seeded.ok("create_repo_group", {"group_name": "sub", "parent": "top"}, dialect=K)
    assert made["repo_group"]["group_name"] == "top/sub" and made["repo_group"]["parent_group"] == "top"
    assert sent(seeded)[-1]["args"] == {"group_name": "top/sub"}  # 4.22 takes the full path


async def test_kallithea_server_info_from_modern_sections(seeded):
    info = await seeded.ok("get_server_info", {}, dialect=K)
    assert set(info) == {"modules", "py_version", "platform", "kallithea_version", "git_version", "git_path"}
    assert info["kallithea_version"] == "4.22.0"  # the server's own version, under Kallithea's key
    assert all(isinstance(m, list) and len(m) == 2 for m in info["modules"])
