"""Every documented modern RhodeCode (4.x) method, end to end through rcgate in front of the real
Kallithea 0.7.0 (callers send `auth_token`).

Methods Kallithea can serve, itself or composed of its own methods (canonical.yaml `composed:`), must
answer in the 4.x shapes (RhodeCode CE 4.22's recorded answers); the 27 it cannot must be refused with
the reason given in mappings/kallithea.yaml. Every call goes through
`DialectCalls.call`, which records the method; the last test checks the recorded set against the
rhodecode list of mappings/documented.yaml.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import recorded422
from tests import shapes as tests_shapes

from .conftest import DialectCalls, unique
from .test_every_method_kallithea import REPO_ROOT, data, documented, hg_binary, whole_module_ran  # noqa: F401

pytestmark = pytest.mark.kallithea

RC4 = "rhodecode"
EXERCISED: set[str] = set()
KALLITHEA_RULES = yaml.safe_load((REPO_ROOT / "mappings" / "kallithea.yaml").read_text())["methods"]

# RhodeCode CE 4.22 field lists, read from the real server's recorded answers: what a modern answer may
# hold. Every field is there (test_reads_carry_every_field_422_sends), null where Kallithea cannot know
# it (auth tokens, last activity ...); the CORE sets are what must hold a value.
USER_422 = recorded422.keys("get_users", "[]")
USER_CORE = {"user_id", "username", "firstname", "lastname", "email", "emails", "active", "admin"}
USER_GROUP_422 = recorded422.keys("get_user_groups", "[]")
USER_GROUP_CORE = {"users_group_id", "group_name", "group_description", "active", "owner", "users"}
REPO_422 = recorded422.keys("get_repos", "[]")
REPO_SINGLE_422 = recorded422.keys("get_repo")
REPO_CORE = {"repo_id", "repo_name", "repo_type", "clone_uri", "private", "created_on", "description",
             "landing_rev", "owner", "fork_of", "enable_statistics", "enable_downloads", "last_changeset"}
CHANGESET_422 = recorded422.keys("get_repo", "last_changeset")
CHANGESET_CORE = {"short_id", "raw_id", "revision", "message", "date", "author"}
PERMISSION_422 = recorded422.keys("get_repo", "permissions.[]")
REPO_GROUP_422 = recorded422.keys("get_repo_groups", "[]")
REPO_GROUP_SINGLE_422 = recorded422.keys("get_repo_group")
GIST_422 = recorded422.keys("get_gists", "[]")
GIST_CORE = {"gist_id", "type", "access_id", "description", "url", "expires", "created_on"}


@pytest.fixture
def rc4(rpc) -> DialectCalls:
    return DialectCalls(rpc, RC4, EXERCISED, key_field="auth_token")


def assert_user(user: dict, *, permissions: bool = False) -> None:
    extra = {"permissions", "permissions_summary"} if permissions else set()
    assert USER_CORE <= set(user) <= USER_422 | extra, sorted(set(user) - USER_422 - extra)
    assert ("permissions" in user) == permissions


def assert_user_group(group: dict) -> None:
    assert USER_GROUP_CORE <= set(group) <= USER_GROUP_422, sorted(group)  # `users`, never Kallithea's `members`
    for user in group["users"]:
        assert_user(user)


def assert_permission_list(entries: list, kinds: tuple[str, ...]) -> None:
    for entry in entries:
        assert {"name", "type", "permission"} <= set(entry) <= PERMISSION_422, entry
        assert entry["type"] in ("user", "user_group") and entry["permission"].startswith(kinds), entry


def assert_repo(repo: dict, *, single: bool = False) -> None:
    known = REPO_SINGLE_422 if single else REPO_422
    assert REPO_CORE <= set(repo) <= known, sorted(set(repo) - known)
    assert isinstance(repo["landing_rev"], list) and len(repo["landing_rev"]) == 2  # ["rev", "tip"]
    assert CHANGESET_CORE <= set(repo["last_changeset"]) <= CHANGESET_422
    if single:  # 4.22 reports who may do what as `permissions` (4.0 - 4.10 said `members`)
        assert_permission_list(repo["permissions"], ("repository.",))
        for user in repo["followers"]:
            assert_user(user)


def assert_repo_group(group: dict, *, single: bool = False) -> None:
    assert set(group) == (REPO_GROUP_SINGLE_422 if single else REPO_GROUP_422), sorted(group)
    if single:
        assert_permission_list(group["permissions"], ("group.",))


def assert_gist(gist: dict) -> None:
    assert GIST_CORE <= set(gist) <= GIST_422, sorted(gist)


# ------------------------------------------------------------------------------- complete objects
COMPLETE_READS = [
    ("get_user", {}), ("get_user", {"userid": "$user"}), ("get_users", {}), ("get_user_group", {"usergroupid": "$group"}),
    ("get_user_groups", {}), ("get_repo", {"repoid": "$repo"}), ("get_repos", {}),
    ("get_repo_group", {"repogroupid": "$repo_group"}), ("get_repo_groups", {}), ("get_ip", {}),
    ("get_gist", {"gistid": "$gist"}), ("get_gists", {}),
    ("get_repo_nodes", {"repoid": "$repo", "revision": "tip", "root_path": ""}),
    ("get_repo_changeset", {"repoid": "$repo", "revision": "$raw_id"}),
    ("get_repo_changeset", {"repoid": "$repo", "revision": "$raw_id", "details": "extended"}),
    ("get_repo_changesets", {"repoid": "$repo", "start_rev": "", "limit": 5}),
    ("get_locks", {}), ("get_user_locks", {}),
]


@pytest.mark.parametrize("method, args", COMPLETE_READS, ids=[f"{m}-{i}" for i, (m, _) in enumerate(COMPLETE_READS)])
async def test_reads_carry_every_field_422_sends(rc4, data, method, args):
    """At every depth, every key each recorded 4.22 answer of the method has (null where Kallithea cannot
    know it), and nothing else. get_server_info is the exception: Kallithea reports no load, memory ..."""
    args = {k: data[v[1:]] if isinstance(v, str) and v.startswith("$") else v for k, v in args.items()}
    result = await rc4.ok(method, args)
    recorded = recorded422.results(method)
    assert tests_shapes.missing_from(result, recorded) == [], result
    assert tests_shapes.foreign(result, recorded) == [], result


# ------------------------------------------------------------------------------- server methods
async def test_server_methods_answer_in_4x_shapes(rc4, rpc, data):
    ip = await rc4.ok("get_ip", {})
    assert set(ip) == {"server_ip_addr", "user_ips"} and ip == await rpc.direct_ok("get_ip", {})
    assert await rc4.ok("get_ip", {"userid": data["user"]}) == await rpc.direct_ok("get_ip", {"userid": data["user"]})
    assert await rc4.ok("show_ip", {}) == ip
    info = await rc4.ok("get_server_info", {})  # 4.22's sections, built from Kallithea's flat answer
    assert {"rhodecode_app", "python", "platform", "py_modules"} <= set(info) and "kallithea_version" not in info
    assert info["rhodecode_app"]["value"]["rhodecode_version"] == "0.7.0"  # the server's own version
    assert all(set(section) == {"state", "human_value", "value"} for section in info.values())
    assert await rc4.ok("invalidate_cache", {"repoid": data["repo"]}) == {
        "msg": f"Cache for repository `{data['repo']}` was invalidated", "repository": data["repo"]}
    assert await rc4.ok("invalidate_cache", {"repoid": data["repo"], "delete_keys": False}) == {
        "msg": f"Cache for repository `{data['repo']}` was invalidated", "repository": data["repo"]}
    assert await rc4.error("invalidate_cache", {"repoid": data["repo"], "delete_keys": True}) == (
        "Argument `delete_keys` of `invalidate_cache` is not supported by the server behind this gateway")


async def test_pull_answers_msg_and_repository(rc4, rpc, hg_remote):
    name = unique("rc4pull")
    await rpc.direct_ok("create_repo", {"repo_name": name, "repo_type": "hg"})
    assert await rc4.ok("pull", {"repoid": name, "remote_uri": hg_remote}) == {
        "msg": f"Pulled from `{name}`", "repository": name}
    nodes = await rc4.ok("get_repo_nodes", {"repoid": name, "revision": "tip", "root_path": ""})
    assert [(n["name"], n["type"]) for n in nodes] == [("README", "file")]  # remote_uri reached Kallithea as clone_uri


async def test_rescan_repos_answers_added_and_removed(rc4, rpc):
    kallithea = rpc.kallithea
    hg = hg_binary(kallithea)
    repos = Path(kallithea.home) / "repos" if kallithea.home else None
    if hg is None or repos is None or not repos.is_dir():
        assert await rc4.ok("rescan_repos", {}) == {"added": [], "removed": []}
        return
    name = unique("rc4disk")
    await rpc.direct_ok("rescan_repos", {})  # anything left on disk by others is taken in first
    subprocess.run([hg, "init", repos / name], check=True, env={"HGRCPATH": "", "PATH": "/usr/bin:/bin"})
    assert await rc4.ok("rescan_repos", {}) == {"added": [name], "removed": []}
    shutil.rmtree(repos / name)
    assert await rc4.ok("rescan_repos", {"remove_obsolete": True}) == {"added": [], "removed": [name]}


# -------------------------------------------------------------------------------------- users
async def test_user_methods_answer_in_4x_shapes(rc4, rpc):
    name = unique("rc4u")
    created = await rc4.ok("create_user", {"username": name, "email": f"{name}@example.com", "password": "Secr3tPass",
                                           "extern_type": "internal", "extern_name": "",
                                           "force_password_change": False})
    assert created["msg"] == f"created new user `{name}`" and set(created) == {"msg", "user"}
    assert_user(created["user"])
    user_id = created["user"]["user_id"]
    updated = await rc4.ok("update_user", {"userid": user_id, "firstname": "New", "admin": False})
    assert updated["msg"] == f"updated user ID:{user_id} {name}" and updated["user"]["firstname"] == "New"
    assert_user(updated["user"])
    got = await rc4.ok("get_user", {"userid": name})
    assert_user(got, permissions=True)
    me = await rc4.ok("get_user", {}, key=rpc.kallithea.user_key)
    assert me["username"] == rpc.kallithea.user_username
    listed = await rc4.ok("get_users", {})
    assert name in {u["username"] for u in listed}
    for user in listed:
        assert_user(user)
    owned = unique("rc4owned")
    await rpc.direct_ok("create_repo", {"repo_name": owned, "owner": name})
    assert await rc4.error("delete_user", {"userid": name}) == f"failed to delete user ID:{user_id} {name}"
    await rpc.direct_ok("delete_repo", {"repoid": owned})
    assert await rc4.ok("delete_user", {"userid": name}) == {"msg": f"deleted user ID:{user_id} {name}", "user": None}
    assert await rc4.error("delete_user", {"userid": name}) == f"user `{name}` does not exist"


# -------------------------------------------------------------------------------- user groups
async def test_user_group_methods_answer_in_4x_shapes(rc4, data):
    group, renamed = unique("rc4g"), unique("rc4gn")
    created = await rc4.ok("create_user_group", {"group_name": group, "description": "d", "active": True})
    assert created["msg"] == f"created new user group `{group}`" and set(created) == {"msg", "user_group"}
    assert_user_group(created["user_group"])
    group_id = created["user_group"]["users_group_id"]
    assert await rc4.ok("add_user_to_user_group", {"usergroupid": group, "userid": data["user"]}) == {
        "success": True, "msg": f"added member `{data['user']}` to user group `{group}`"}
    updated = await rc4.ok("update_user_group", {"usergroupid": group, "group_name": renamed, "description": "e"})
    assert updated["msg"] == f"updated user group ID:{group_id} {renamed}" and set(updated) == {"msg", "user_group"}
    assert_user_group(updated["user_group"])
    assert updated["user_group"]["group_description"] == "e"
    got = await rc4.ok("get_user_group", {"usergroupid": renamed})
    assert_user_group({k: v for k, v in got.items() if k not in ("permissions", "permissions_summary")})
    assert got["permissions"] is None and got["permissions_summary"] is None  # 4.22's; Kallithea's API has none
    assert [u["username"] for u in got["users"]] == [data["user"]]
    listed = await rc4.ok("get_user_groups", {})
    for item in listed:
        assert_user_group(item)
    assert renamed in {g["group_name"] for g in listed}
    assert await rc4.ok("remove_user_from_user_group", {"usergroupid": renamed, "userid": data["user"]}) == {
        "success": True, "msg": f"removed member `{data['user']}` from user group `{renamed}`"}
    assert await rc4.ok("delete_user_group", {"usergroupid": renamed}) == {
        "msg": f"deleted user group ID:{group_id} {renamed}", "user_group": None}
    assert await rc4.error("get_user_group", {"usergroupid": renamed}) == f"user group `{renamed}` does not exist"


# ------------------------------------------------------------------------------- repositories
async def test_repo_reads_answer_in_4x_shapes(rc4, data):
    repo = await rc4.ok("get_repo", {"repoid": data["repo"]})
    assert_repo(repo, single=True)
    assert repo["landing_rev"] == ["rev", "tip"] and repo["last_changeset"]["raw_id"] == data["raw_id"]
    assert await rc4.error("get_repo", {"repoid": data["repo"], "cache": False}) == (
        "Argument `cache` of `get_repo` is not supported by the server behind this gateway")
    repos = await rc4.ok("get_repos", {})
    assert data["repo"] in {r["repo_name"] for r in repos}
    for r in repos:
        assert_repo(r)
    args = {"repoid": data["repo"], "revision": "tip", "root_path": ""}
    names = lambda nodes: [(n["name"], n["type"]) for n in nodes]  # noqa: E731 (size, md5 ...: null)
    assert names(await rc4.ok("get_repo_nodes", args)) == [("README", "file")]
    assert names(await rc4.ok("get_repo_nodes", {**args, "ret_type": "files", "details": "basic"})) == [
        ("README", "file")]
    assert await rc4.error("get_repo_nodes", {**args, "details": "full"}) == (
        "Argument `details` of `get_repo_nodes` is not supported by the server behind this gateway")


async def test_get_repo_changeset_answers_a_4x_commit(rc4, data):
    commit = await rc4.ok("get_repo_changeset", {"repoid": data["repo"], "revision": data["raw_id"]})
    assert CHANGESET_CORE <= set(commit)
    assert commit["raw_id"] == data["raw_id"] and commit["short_id"] == data["raw_id"][:12]
    assert commit["author"] == "Test <test@example.com>"  # 4.x: a string, Kallithea's {name, email} joined
    assert commit["message"] == "first" and commit["revision"] == 0
    assert await rc4.ok("get_repo_changeset", {"repoid": data["repo"], "revision": "tip", "details": "basic"}) == commit
    assert await rc4.error("get_repo_changeset", {"repoid": data["repo"], "revision": "deadbeef"}) == (
        "Changeset deadbeef does not exist")


async def test_repo_writes_answer_in_4x_shapes(rc4, data):
    name, fork, renamed = unique("rc4r"), unique("rc4f"), unique("rc4n")
    assert await rc4.ok("create_repo", {"repo_name": name, "repo_type": "hg", "description": "one"}) == {
        "msg": f"Created new repository `{name}`", "success": True, "task": None}
    assert await rc4.error("create_repo", {"repo_name": name, "repo_type": "hg"}) == (
        f"Repository with name `{name}` already exists")
    updated = await rc4.ok("update_repo", {"repoid": name, "name": renamed, "description": "two",
                                           "landing_rev": "rev:tip", "enable_statistics": True})
    assert set(updated) == {"msg", "repository"} and updated["msg"].endswith(f" {renamed}")
    assert updated["msg"].startswith("updated repo ID:")
    assert_repo(updated["repository"])
    assert updated["repository"]["description"] == "two" and updated["repository"]["enable_statistics"] is True
    assert await rc4.error("update_repo", {"repoid": renamed, "enable_locking": True}) == (
        "Argument `enable_locking` of `update_repo` is not supported by the server behind this gateway")
    assert await rc4.ok("fork_repo", {"repoid": renamed, "fork_name": fork, "description": "f"}) == {
        "msg": f"Created fork of `{renamed}` as `{fork}`", "success": True, "task": None}
    assert await rc4.ok("grant_user_permission",
                        {"repoid": fork, "userid": data["user"], "perm": "repository.read"}) == {
        "msg": f"Granted perm: `repository.read` for user: `{data['user']}` in repo: `{fork}`", "success": True}
    assert await rc4.ok("grant_user_group_permission", {"repoid": fork, "usergroupid": data["group"],
                                                        "perm": "repository.write"}) == {
        "msg": f"Granted perm: `repository.write` for user group: `{data['group']}` in repo: `{fork}`", "success": True}
    members = {m["name"]: m for m in (await rc4.ok("get_repo", {"repoid": fork}))["permissions"]}
    assert members[data["group"]]["type"] == "user_group" and members[data["user"]]["type"] == "user"
    assert await rc4.ok("revoke_user_permission", {"repoid": fork, "userid": data["user"]}) == {
        "msg": f"Revoked perm for user: `{data['user']}` in repo: `{fork}`", "success": True}
    assert await rc4.ok("revoke_user_group_permission", {"repoid": fork, "usergroupid": data["group"]}) == {
        "msg": f"Revoked perm for user group: `{data['group']}` in repo: `{fork}`", "success": True}
    assert await rc4.error("grant_user_permission",
                           {"repoid": fork, "userid": data["user"], "perm": "repository.x"}) == (
        "permission `repository.x` does not exist.")  # the 4.x wording, with the trailing dot
    assert await rc4.ok("delete_repo", {"repoid": renamed, "forks": "delete"}) == {
        "msg": f"Deleted repository `{renamed}` Deleted 1 forks", "success": True}
    assert await rc4.error("get_repo", {"repoid": fork}) == f"repository `{fork}` does not exist"


# ---------------------------------------------------------------------------- repository groups
async def test_repo_group_methods_answer_in_4x_shapes(rc4, data):
    group, renamed = unique("rc4rg"), unique("rc4rgn")
    created = await rc4.ok("create_repo_group", {"group_name": group, "description": "modern",
                                                 "copy_permissions": False})
    assert set(created) == {"msg", "repo_group"}
    assert created["msg"] == f"Created new repo group `{group}`"  # 4.x: capital C (Kallithea: "created")
    assert_repo_group(created["repo_group"])
    assert created["repo_group"]["group_description"] == "modern" and created["repo_group"]["parent_group"] is None
    group_id = created["repo_group"]["group_id"]

    got = await rc4.ok("get_repo_group", {"repogroupid": group})
    assert_repo_group(got, single=True)
    assert got["group_id"] == group_id
    listed = await rc4.ok("get_repo_groups", {})
    for item in listed:
        assert_repo_group(item)
    assert {data["repo_group"], group} <= {g["group_name"] for g in listed}

    user, ugroup = data["user"], data["group"]
    assert await rc4.ok("grant_user_permission_to_repo_group",
                        {"repogroupid": group, "userid": user, "perm": "group.write"}) == {
        "msg": f"Granted perm: `group.write` (recursive:none) for user: `{user}` in repo group: `{group}`",
        "success": True}
    assert await rc4.ok("grant_user_group_permission_to_repo_group",
                        {"repogroupid": group, "usergroupid": ugroup, "perm": "group.read",
                         "apply_to_children": "all"}) == {
        "msg": f"Granted perm: `group.read` (recursive:all) for user group: `{ugroup}` in repo group: `{group}`",
        "success": True}
    members = {m["name"]: m for m in (await rc4.ok("get_repo_group", {"repogroupid": group}))["permissions"]}
    assert members[user]["permission"] == "group.write" and members[ugroup]["type"] == "user_group"
    assert await rc4.ok("revoke_user_permission_from_repo_group", {"repogroupid": group, "userid": user}) == {
        "msg": f"Revoked perm (recursive:none) for user: `{user}` in repo group: `{group}`", "success": True}
    assert await rc4.ok("revoke_user_group_permission_from_repo_group",
                        {"repogroupid": group, "usergroupid": ugroup}) == {
        "msg": f"Revoked perm (recursive:none) for user group: `{ugroup}` in repo group: `{group}`", "success": True}

    updated = await rc4.ok("update_repo_group", {"repogroupid": group, "group_name": renamed, "description": "again"})
    assert set(updated) == {"msg", "repo_group"}
    assert updated["msg"] == f"updated repository group ID:{group_id} {renamed}"
    assert_repo_group(updated["repo_group"])
    assert updated["repo_group"]["group_description"] == "again"
    assert await rc4.error("update_repo_group", {"repogroupid": renamed, "enable_locking": True}) == (
        "Argument `enable_locking` of `update_repo_group` is not supported by the server behind this gateway")
    assert await rc4.ok("delete_repo_group", {"repogroupid": renamed}) == {
        "msg": f"deleted repo group ID:{group_id} {renamed}", "repo_group": None}
    assert (await rc4.error("get_repo_group", {"repogroupid": renamed})).endswith("does not exist")


# RhodeCode 4.x names a nested group by its path ("parent/child"); Kallithea takes the parent in a
# separate `parent` argument (kallithea.yaml: `paths:`), and reports the group by its full path.
async def test_create_repo_group_with_a_path_creates_a_nested_group(rc4, data):
    child = unique("rc4child")
    created = await rc4.ok("create_repo_group", {"group_name": f"{data['repo_group']}/{child}"})
    assert created["repo_group"]["group_name"] == f"{data['repo_group']}/{child}"
    assert created["repo_group"]["parent_group"] == data["repo_group"]


# ---------------------------------------------------------------------------------------- gists
async def test_gist_methods_answer_in_4x_shapes(rc4, rpc):
    files = {"a.py": {"content": "print(1)\n", "lexer": "python"}}
    created = await rc4.ok("create_gist", {"files": files, "gist_type": "private", "lifetime": -1,
                                           "description": "modern", "acl_level": "acl_public"})
    assert set(created) == {"msg", "gist"} and created["msg"] == "created new gist"
    assert_gist(created["gist"])
    access_id = created["gist"]["access_id"]
    assert created["gist"]["type"] == "private" and created["gist"]["expires"] == -1
    assert await rc4.error("create_gist", {"files": files, "acl_level": "acl_private"}) == (
        "Argument `acl_level` of `create_gist` is not supported by the server behind this gateway")
    got = await rc4.ok("get_gist", {"gistid": access_id})
    assert_gist(got)
    assert got["access_id"] == access_id and got["description"] == "modern"
    assert await rc4.ok("get_gist", {"gistid": access_id, "content": False}) == got
    assert await rc4.error("get_gist", {"gistid": access_id, "content": True}) == (
        "Argument `content` of `get_gist` is not supported by the server behind this gateway")
    mine = await rc4.ok("get_gists", {})
    for gist in mine:
        assert_gist(gist)
    assert access_id in {g["access_id"] for g in mine}
    user_gists = await rc4.ok("get_gists", {"userid": rpc.kallithea.user_username})
    assert access_id not in {g["access_id"] for g in user_gists}
    assert await rc4.ok("delete_gist", {"gistid": access_id}) == {"msg": f"deleted gist ID:{access_id}", "gist": None}
    assert await rc4.error("get_gist", {"gistid": access_id}) == f"gist `{access_id}` does not exist"


# --------------------------------------------------------------- refused: Kallithea cannot serve
REFUSED = {
    "strip": {"repoid": "$repo", "revision": "$raw_id", "branch": "default"},
    "get_license_info": {},
    "set_license_key": {"key": "LICENSE-KEY"},
    "grant_user_permission_to_user_group": {"usergroupid": "$group", "userid": "$user", "perm": "usergroup.read"},
    "revoke_user_permission_from_user_group": {"usergroupid": "$group", "userid": "$user"},
    "grant_user_group_permission_to_user_group": {"usergroupid": "$group", "sourceusergroupid": "$group",
                                                  "perm": "usergroup.read"},
    "revoke_user_group_permission_from_user_group": {"usergroupid": "$group", "sourceusergroupid": "$group"},
    "merge_pull_request": {"repoid": "$repo", "pullrequestid": 1},
    "create_pull_request": {"source_repo": "$repo", "target_repo": "$repo", "source_ref": "branch:default:tip",
                            "target_ref": "branch:default:tip", "title": "t"},
    "add_field_to_repo": {"repoid": "$repo", "key": "k"},
    "remove_field_from_repo": {"repoid": "$repo", "key": "k"},
    "comment_commit": {"repoid": "$repo", "commit_id": "$raw_id", "message": "m"},
    "changeset_comment": {"repoid": "$repo", "revision": "$raw_id", "message": "m"},
    "maintenance": {"repoid": "$repo"},
    "cleanup_sessions": {},
    "get_audit_logs": {"query": "repo.add"},
    "get_user_audit_logs": {},
    "search": {"search_query": "README", "search_type": "path"},
    "get_repo_file": {"repoid": "$repo", "commit_id": "tip", "file_path": "README"},
    "get_repo_fts_tree": {"repoid": "$repo", "commit_id": "tip", "root_path": ""},
    "get_repo_refs": {"repoid": "$repo"},
    "get_repo_settings": {"repoid": "$repo"},
    "set_repo_settings": {"repoid": "$repo", "settings": {"hooks_changegroup_push_logger": True}},
    "get_repo_comments": {"repoid": "$repo"},
    "get_comment": {"comment_id": 1},
    "get_pull_request_comments": {"pullrequestid": 1},
    "edit_comment": {"comment_id": 1, "message": "m", "version": 0},
}


@pytest.mark.parametrize("method", sorted(REFUSED))
async def test_methods_kallithea_cannot_serve_are_refused_with_the_reason(rc4, rpc, data, method):
    args = {k: data[v[1:]] if isinstance(v, str) and v.startswith("$") else v for k, v in REFUSED[method].items()}
    reason = KALLITHEA_RULES[method]["unsupported"]
    answer = await rc4.call(method, args, id=f"refused-{method}")
    assert answer == {"id": f"refused-{method}", "result": None,
                      "error": f"Method `{method}` is not supported by the server behind this gateway: {reason}"}
    assert (await rpc.direct(method, args))["error"] is not None  # Kallithea itself cannot do it either


def test_refused_set_is_what_kallithea_cannot_serve():
    from gateway.mapping.engine import compile_mappings
    from gateway.mapping.loader import load_mappings

    dialects = compile_mappings(load_mappings(REPO_ROOT / "mappings")).dialects
    refused = {m for m in documented(RC4) if (o := dialects["kallithea"].outbound.get(m)) is None or o.unsupported}
    assert refused == set(REFUSED)
    assert len(documented(RC4)) - len(refused) == 52  # served live by the tests above


# ------------------------------------------------------------------------ composed on Kallithea
async def test_composed_methods_answer_in_4x_shapes(rc4, rpc, data):
    """Methods Kallithea lacks, answered with the ones it has (canonical.yaml `composed:`; more in test_composed.py)."""
    commits = await rc4.ok("get_repo_changesets", {"repoid": data["repo"], "start_rev": data["raw_id"], "limit": 10})
    assert [c["raw_id"] for c in commits] == [data["raw_id"]]
    assert CHANGESET_CORE <= set(commits[0]) <= recorded422.keys("get_repo_changesets", "[]")
    assert await rc4.ok("get_pull_requests", {"repoid": data["repo"]}) == []  # none on this Kallithea
    for method, args in (("get_pull_request", {"pullrequestid": 424242}),
                         ("comment_pull_request", {"pullrequestid": 424242, "message": "hi"}),
                         ("close_pull_request", {"pullrequestid": 424242}),
                         ("update_pull_request", {"pullrequestid": 424242, "reviewers": []})):
        assert await rc4.error(method, args) == "pull request `424242` does not exist", method
    state = await rc4.ok("lock", {"repoid": data["repo"]})
    assert state["locked"] is False and set(state) == recorded422.keys("lock")
    assert await rc4.ok("get_user_locks", {}) == [] and await rc4.ok("get_locks", {}) == []


# ------------------------------------------------------------------------------ completeness
def test_every_documented_rhodecode_method_was_exercised(request):
    """Last in this module: every documented 4.x method ran end to end (or was refused) here."""
    if not whole_module_ran(request, __name__):
        pytest.skip("only part of the module was selected")
    assert EXERCISED == documented(RC4), {"missing": sorted(documented(RC4) - EXERCISED),
                                          "not documented": sorted(EXERCISED - documented(RC4))}
    assert len(documented(RC4)) == 79  # RhodeCode CE 4.22's 77 public methods and seed 000's two license methods
