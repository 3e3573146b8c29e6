"""Every documented RhodeCode 1.x method, end to end through rcgate in front of the real Kallithea 0.7.0.

Methods Kallithea can serve must answer in the 1.x shapes (FACTS.md §5, §6; seeds 002 - 004); the
ones it cannot (lock, get_locks) must be refused with the reason, in 1.x words. Every call goes
through `DialectCalls.call`, which records the method; the last test checks the recorded set against the
rhodecode1 list of mappings/documented.yaml.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import DialectCalls, unique
from .test_every_method_kallithea import REPO_ROOT, data, documented, hg_binary, whole_module_ran  # noqa: F401

pytestmark = pytest.mark.kallithea

RC1 = "rhodecode1"
EXERCISED: set[str] = set()
KALLITHEA_RULES = yaml.safe_load((REPO_ROOT / "mappings" / "kallithea.yaml").read_text())["methods"]

# RhodeCode 1.5.4 - 1.7.2 field lists (FACTS.md §5.1 - §5.5): what a 1.x answer may hold
USER_1X = {"user_id", "username", "firstname", "lastname", "email", "emails", "api_key", "active", "admin",
           "ldap_dn", "last_login", "ip_addresses"}
USER_CORE = {"user_id", "username", "firstname", "lastname", "email", "emails", "active", "admin"}
USERS_GROUP_1X = {"users_group_id", "group_name", "active"}
REPO_1X = {"repo_id", "repo_name", "repo_type", "clone_uri", "private", "created_on", "description", "landing_rev",
           "owner", "fork_of", "enable_statistics", "enable_locking", "enable_downloads", "last_changeset",
           "locked_by", "locked_date"}
REPO_CORE = {"repo_id", "repo_name", "repo_type", "clone_uri", "private", "created_on", "description",
             "landing_rev", "owner", "fork_of"}
CHANGESET_1X = {"author", "date", "message", "raw_id", "revision", "short_id"}
GIST_1X = {"gist_id", "type", "access_id", "description", "url", "expires", "created_on"}


@pytest.fixture
def rc1(rpc) -> DialectCalls:
    return DialectCalls(rpc, RC1, EXERCISED)


def assert_user(user: dict, *, permissions: bool = False) -> None:
    extra = {"permissions"} if permissions else set()
    assert USER_CORE <= set(user) <= USER_1X | extra, sorted(set(user) ^ USER_CORE)
    assert ("permissions" in user) == permissions
    if permissions:  # 1.7: global, repositories, repositories_groups, user_groups
        assert set(user["permissions"]) == {"global", "repositories", "repositories_groups", "user_groups"}


def assert_repo(repo: dict, *, single: bool = False) -> None:
    extra = {"members", "followers"} if single else set()
    assert REPO_CORE <= set(repo) <= REPO_1X | extra, sorted(set(repo) - REPO_1X - extra)
    assert isinstance(repo["landing_rev"], str)  # 1.x: "tip", not ["rev", "tip"]
    assert set(repo["last_changeset"]) == CHANGESET_1X
    if single:
        for member in repo["members"]:
            assert member["type"] in ("user", "users_group") and "origin" not in member, member


def assert_gist(gist: dict) -> None:
    assert set(gist) == GIST_1X, sorted(gist)
    assert gist["type"] in ("public", "private")


# ------------------------------------------------------------------------------- server methods
async def test_show_ip_answers_ip_addr_server(rc1, rpc, data):
    direct = await rpc.direct_ok("get_ip", {"userid": data["user"]})
    got = await rc1.ok("show_ip", {"userid": data["user"]})
    assert got == {"ip_addr_server": direct["server_ip_addr"], "user_ips": direct["user_ips"]}
    # RhodeCode 1.x required userid (Kallithea's get_ip defaults to the caller)
    assert await rc1.error("show_ip", {}) == "Missing non optional `userid` arg in JSON DATA"


async def test_invalidate_cache_answers_a_bare_string(rc1, data):
    assert await rc1.ok("invalidate_cache", {"repoid": data["repo"]}) == (
        f"Caches of repository `{data['repo']}` was invalidated")
    assert await rc1.error("invalidate_cache", {"repoid": "no-such-repo"}) == "repository `no-such-repo` does not exist"


async def test_rescan_repos_answers_added_and_removed(rc1, rpc):
    kallithea = rpc.kallithea
    hg = hg_binary(kallithea)
    repos = Path(kallithea.home) / "repos" if kallithea.home else None
    if hg is None or repos is None or not repos.is_dir():
        assert await rc1.ok("rescan_repos", {}) == {"added": [], "removed": []}
        return
    name = unique("rc1disk")
    await rpc.direct_ok("rescan_repos", {})  # anything left on disk by others is taken in first
    subprocess.run([hg, "init", repos / name], check=True, env={"HGRCPATH": "", "PATH": "/usr/bin:/bin"})
    assert await rc1.ok("rescan_repos", {}) == {"added": [name], "removed": []}
    shutil.rmtree(repos / name)
    assert await rc1.ok("rescan_repos", {"remove_obsolete": True}) == {"added": [], "removed": [name]}


async def test_pull_answers_a_bare_string(rc1, rpc, hg_remote):
    name = unique("rc1pull")
    await rpc.direct_ok("create_repo", {"repo_name": name, "repo_type": "hg", "clone_uri": hg_remote})
    assert await rc1.ok("pull", {"repoid": name}) == f"Pulled from `{name}`"
    assert await rc1.ok("pull", {"repo_name": name}) == f"Pulled from `{name}`"  # 1.3 spelling
    # 1.x has no remote_uri: dropped as an unknown argument, the repository's own clone_uri is used
    assert await rc1.ok("pull", {"repoid": name, "remote_uri": "http://127.0.0.1:1/"}) == f"Pulled from `{name}`"
    assert await rc1.error("pull", {"repoid": "no-such-repo"}) == "repository `no-such-repo` does not exist"


# -------------------------------------------------------------------------------------- users
async def test_user_methods_answer_in_1x_shapes(rc1, rpc):
    name = unique("rc1u")
    created = await rc1.ok("create_user", {"username": name, "email": f"{name}@example.com",
                                           "password": "Secr3tPass", "firstname": "Old", "ldap_dn": ""})
    assert created["msg"] == f"created new user `{name}`" and set(created) == {"msg", "user"}
    assert_user(created["user"])
    user_id = created["user"]["user_id"]
    updated = await rc1.ok("update_user", {"userid": name, "lastname": "Script", "active": False})
    assert updated == {"msg": f"updated user ID:{user_id} {name}", "user": updated["user"]}
    assert_user(updated["user"])
    assert updated["user"]["lastname"] == "Script" and updated["user"]["active"] is False
    got = await rc1.ok("get_user", {"userid": name})
    assert_user(got, permissions=True)
    assert got["username"] == name
    me = await rc1.ok("get_user", {}, key=rpc.kallithea.user_key)  # no userid: the caller
    assert me["username"] == rpc.kallithea.user_username
    listed = await rc1.ok("get_users", {})
    assert name in {u["username"] for u in listed}
    for user in listed:
        assert_user(user)
    owned = unique("rc1owned")
    await rpc.direct_ok("create_repo", {"repo_name": owned, "owner": name})
    assert await rc1.error("delete_user", {"userid": name}) == f"failed to delete ID:{user_id} {name}"  # 1.x words
    await rpc.direct_ok("delete_repo", {"repoid": owned})
    assert await rc1.ok("delete_user", {"userid": name}) == {"msg": f"deleted user ID:{user_id} {name}", "user": None}
    assert await rc1.error("delete_user", {"userid": name}) == f"user `{name}` does not exist"
    assert await rc1.error("get_users", {}, key=rpc.kallithea.user_key) is not None  # admin only


# -------------------------------------------------------------------------------- users groups
async def test_users_group_methods_answer_in_1x_shapes(rc1, data):
    group = unique("rc1g")
    created = await rc1.ok("create_users_group", {"group_name": group, "active": True})
    assert created["msg"] == f"created new user group `{group}`" and set(created) == {"msg", "users_group"}
    assert set(created["users_group"]) == USERS_GROUP_1X  # RhodeCode 1.7.2 answers the new group without members
    assert await rc1.ok("add_user_to_users_group", {"usersgroupid": group, "userid": data["user"]}) == {
        "success": True, "msg": f"added member `{data['user']}` to user group `{group}`"}
    assert await rc1.ok("add_user_users_group", {"usersgroupid": group, "userid": data["user"]}) == {
        "success": False, "msg": "User is already in that group"}
    got = await rc1.ok("get_users_group", {"usersgroupid": group})
    assert set(got) == USERS_GROUP_1X | {"members"}
    assert [m["username"] for m in got["members"]] == [data["user"]]
    assert_user(got["members"][0])
    listed = await rc1.ok("get_users_groups", {})
    mine = [g for g in listed if g["group_name"] == group]
    assert len(mine) == 1 and set(mine[0]) == USERS_GROUP_1X
    assert await rc1.ok("remove_user_from_users_group", {"usersgroupid": group, "userid": data["user"]}) == {
        "success": True, "msg": f"removed member `{data['user']}` from user group `{group}`"}
    assert await rc1.ok("remove_user_from_users_group", {"group_name": group, "username": data["user"]}) == {
        "success": False, "msg": "User wasn't in group"}
    assert await rc1.error("get_users_group", {}) == "Missing non optional `usersgroupid` arg in JSON DATA"


# ------------------------------------------------------------------------------- repositories
async def test_repo_reads_answer_in_1x_shapes(rc1, data):
    repo = await rc1.ok("get_repo", {"repoid": data["repo"]})
    assert_repo(repo, single=True)
    assert repo["landing_rev"] == "tip" and repo["last_changeset"]["raw_id"] == data["raw_id"]
    assert {(m["username"], m["type"]) for m in repo["members"]} >= {("default", "user")}  # 1.x: a user's name
    repos = await rc1.ok("get_repos", {})
    assert data["repo"] in {r["repo_name"] for r in repos}
    for r in repos:
        assert_repo(r)


async def test_get_repo_nodes_lists_the_cloned_files(rc1, data):
    args = {"repoid": data["repo"], "revision": "tip", "root_path": ""}
    assert await rc1.ok("get_repo_nodes", args) == [{"name": "README", "type": "file"}]
    assert await rc1.ok("get_repo_nodes", {**args, "ret_type": "dirs"}) == []
    # RhodeCode 1.3 spelling, and the 1.x wording of the ret_type error
    assert await rc1.ok("get_repo_nodes", {"repo_name": data["repo"], "revision": data["raw_id"], "root_path": "",
                                           "ret_type": "files"}) == [{"name": "README", "type": "file"}]
    assert await rc1.error("get_repo_nodes", {**args, "ret_type": "bogus"}) == (
        "ret_type must be one of ['files', 'dirs', 'all']")


async def test_repo_writes_answer_in_1x_shapes(rc1, rpc, data):
    name, fork, renamed = unique("rc1r"), unique("rc1f"), unique("rc1n")
    created = await rc1.ok("create_repo", {"repo_name": name, "repo_type": "hg", "landing_rev": "tip",
                                           "description": "one"})
    assert set(created) == {"msg", "repo"} and created["msg"] == f"Created new repository `{name}`"
    assert_repo(created["repo"])  # as 1.7.2 answers it: the repository without members and followers
    assert await rc1.error("create_repo", {"repo_name": name}) == f"repo `{name}` already exist"

    updated = await rc1.ok("update_repo", {"repoid": name, "name": renamed, "description": "two", "private": True,
                                           "landing_rev": "tip", "owner": data["user"]})
    assert set(updated) == {"msg", "repository"}
    assert updated["msg"] == f"updated repo ID:{created['repo']['repo_id']} {renamed}"
    assert_repo(updated["repository"])
    assert updated["repository"]["landing_rev"] == "tip" and updated["repository"]["private"] is True
    assert updated["repository"]["owner"] == data["user"] and updated["repository"]["repo_name"] == renamed
    assert await rc1.error("update_repo", {"repoid": name, "description": "x"}) == (
        f"repository `{name}` does not exist")
    # 1.7 had repository locking; Kallithea has not: asking for it is refused, not dropped
    assert await rc1.error("update_repo", {"repoid": renamed, "enable_locking": True}) == (
        "Argument `enable_locking` of `update_repo` is not supported by the server behind this gateway")
    assert (await rc1.ok("update_repo", {"repoid": renamed, "enable_locking": False}))["repository"]["private"] is True

    assert await rc1.ok("fork_repo", {"repoid": renamed, "fork_name": fork, "landing_rev": "tip"}) == {
        "msg": f"Created fork of `{renamed}` as `{fork}`", "success": True}
    assert await rc1.ok("grant_user_permission",
                        {"repoid": fork, "userid": data["user"], "perm": "repository.read"}) == {
        "msg": f"Granted perm: `repository.read` for user: `{data['user']}` in repo: `{fork}`", "success": True}
    assert await rc1.ok("grant_users_group_permission", {"repoid": fork, "usersgroupid": data["group"],
                                                         "perm": "repository.write"}) == {
        "msg": f"Granted perm: `repository.write` for user group: `{data['group']}` in repo: `{fork}`", "success": True}
    members = {m.get("username") or m.get("group_name"): m for m in (await rc1.ok("get_repo", {"repoid": fork}))["members"]}
    assert members[data["group"]]["type"] == "users_group" and members[data["user"]]["type"] == "user"
    assert await rc1.ok("revoke_user_permission", {"repoid": fork, "userid": data["user"]}) == {
        "msg": f"Revoked perm for user: `{data['user']}` in repo: `{fork}`", "success": True}
    assert await rc1.ok("revoke_users_group_permission", {"repoid": fork, "usersgroupid": data["group"]}) == {
        "msg": f"Revoked perm for user group: `{data['group']}` in repo: `{fork}`", "success": True}
    assert await rc1.error("grant_user_permission",
                           {"repoid": fork, "userid": data["user"], "perm": "repository.x"}) == (
        "permission `repository.x` does not exist")
    assert await rc1.ok("delete_repo", {"repoid": renamed, "forks": "detach"}) == {
        "msg": f"Deleted repository `{renamed}` Detached 1 forks", "success": True}
    # `repo_name`: the 1.3 spelling, so 1.3's answer, without `success`
    assert await rc1.ok("delete_repo", {"repo_name": fork}) == {"msg": f"Deleted repository `{fork}`"}

    # a non-admin naming an owner gets 1.x's wording of Kallithea's refusal
    assert await rc1.error("create_repo", {"repo_name": unique("rc1o"), "owner": data["user"]},
                           key=rpc.kallithea.user_key) == "Only RhodeCode admin can specify `owner` param"


# -------------------------------------------------------------------------------------- gists
async def test_create_gist_answers_msg_and_gist(rc1, rpc):
    files = {"one.txt": {"content": "1\n", "lexer": None}}
    created = await rc1.ok("create_gist", {"files": files, "gist_type": "private", "lifetime": 5,
                                           "description": "from 1.7"})
    assert set(created) == {"msg", "gist"} and created["msg"] == "created new gist"
    assert_gist(created["gist"])
    assert created["gist"]["type"] == "private" and created["gist"]["description"] == "from 1.7"
    assert created["gist"]["expires"] > 0
    public = (await rc1.ok("create_gist", {"files": files}))["gist"]
    assert_gist(public)
    assert public["type"] == "public" and public["expires"] == -1
    got = await rpc.direct_ok("get_gist", {"gistid": created["gist"]["access_id"]})
    assert got["description"] == "from 1.7"  # it really is on the server
    # acl_level is RhodeCode 4.x only: a 1.x caller's stray one is dropped, as 1.x did
    assert_gist((await rc1.ok("create_gist", {"files": files, "acl_level": "acl_private"}))["gist"])


# ------------------------------------------------------------------------- refused: no locking
async def test_locks_on_a_server_that_never_locks(rc1, rpc, data):
    """Kallithea removed locking in 0.5 (canonical.yaml `composed:`): the state of a lock is answered (never
    locked), setting one is refused, and nobody holds a lock."""
    state = await rc1.ok("lock", {"repoid": data["repo"]})
    assert set(state) == {"repo", "locked", "locked_since", "locked_by", "msg"}  # the RC 1.7 object
    assert state["locked"] is False and state["repo"] == data["repo"]
    assert await rc1.error("lock", {"repoid": data["repo"], "locked": True}) == (
        "Argument `locked` of `lock` is not supported by the server behind this gateway")
    assert await rc1.ok("get_locks", {}) == []
    assert (await rpc.direct("lock", {"repoid": data["repo"]}))["error"] == "No such method: lock"  # Kallithea itself


def test_every_1x_method_is_served_by_kallithea():
    from gateway.mapping.engine import compile_mappings
    from gateway.mapping.loader import load_mappings

    dialects = compile_mappings(load_mappings(REPO_ROOT / "mappings")).dialects
    refused = [m for m in documented(RC1) if (o := dialects["kallithea"].outbound.get(
        dialects[RC1].inbound[m].canonical)) is None or o.unsupported]
    assert refused == []


# ------------------------------------------------------------------------------ completeness
def test_every_documented_rhodecode1_method_was_exercised(request):
    """Last in this module: every documented 1.x method ran end to end (or was refused) here."""
    if not whole_module_ran(request, __name__):
        pytest.skip("only part of the module was selected")
    assert EXERCISED == documented(RC1), {"missing": sorted(documented(RC1) - EXERCISED),
                                          "not documented": sorted(EXERCISED - documented(RC1))}
    assert len(documented(RC1)) == 29
