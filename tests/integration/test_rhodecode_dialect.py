"""A modern RhodeCode script (auth_token) through rcgate, in front of Kallithea, gets modern shapes."""
from __future__ import annotations

import pytest

from .conftest import unique

pytestmark = pytest.mark.kallithea


async def modern(rpc, method, args=None, **kw):
    return await rpc.ok(method, args, key_field="auth_token", **kw)


async def test_answers_are_pretty_printed_like_rhodecode_4(rpc):
    body = f'{{"id": 1, "auth_token": "{rpc.kallithea.admin_key}", "method": "get_user", "args": {{}}}}'.encode()
    response = await rpc.client.post("/_admin/api", data=body)
    text = await response.text()
    assert text.startswith('{\n    "error": null,\n    "id": 1,\n    "result": {\n')  # 4.x's key order, indent 4


async def test_user_group_has_users_not_members(rpc):
    user, group = unique("mu"), unique("mg")
    created = await modern(rpc, "create_user", {"username": user, "email": f"{user}@example.com",
                                                "password": "Secr3tPass", "force_password_change": False})
    assert created["user"]["username"] == user
    made = await modern(rpc, "create_user_group", {"group_name": group, "description": "modern"})
    assert made["msg"] == f"created new user group `{group}`"
    assert await modern(rpc, "add_user_to_user_group", {"usergroupid": group, "userid": user}) == {
        "success": True, "msg": f"added member `{user}` to user group `{group}`"}
    got = await modern(rpc, "get_user_group", {"usergroupid": group})
    assert [u["username"] for u in got["users"]] == [user]
    assert "members" not in got
    listed = await modern(rpc, "get_user_groups")
    assert [u["username"] for g in listed if g["group_name"] == group for u in g["users"]] == [user]
    assert (await modern(rpc, "remove_user_from_user_group", {"usergroupid": group, "userid": user}))["success"]
    updated = await modern(rpc, "update_user", {"userid": user, "firstname": "New"})
    assert updated["user"]["firstname"] == "New"
    assert (await modern(rpc, "delete_user", {"userid": user}))["user"] is None


async def test_create_and_fork_repo_carry_a_task(rpc):
    name, fork = unique("mr"), unique("mf")
    assert await modern(rpc, "create_repo", {"repo_name": name, "repo_type": "git"}) == {
        "msg": f"Created new repository `{name}`", "success": True, "task": None}
    assert await modern(rpc, "fork_repo", {"repoid": name, "fork_name": fork}) == {
        "msg": f"Created fork of `{name}` as `{fork}`", "success": True, "task": None}
    repo = await modern(rpc, "get_repo", {"repoid": name})
    assert repo["landing_rev"] == ["rev", "tip"] and repo["repo_type"] == "git"
    assert name in {r["repo_name"] for r in await modern(rpc, "get_repos")}
    user = rpc.kallithea.user_username
    assert (await modern(rpc, "grant_user_permission", {"repoid": name, "userid": user, "perm": "repository.read"}))["success"]
    assert (await modern(rpc, "revoke_user_permission", {"repoid": name, "userid": user}))["success"]
    assert await modern(rpc, "delete_repo", {"repoid": fork}) == {"msg": f"Deleted repository `{fork}`", "success": True}


async def test_pull(rpc, hg_remote):
    name = unique("mp")
    await rpc.direct_ok("create_repo", {"repo_name": name, "repo_type": "hg", "clone_uri": hg_remote})
    assert await modern(rpc, "pull", {"repoid": name}) == {"msg": f"Pulled from `{name}`", "repository": name}


async def test_modern_errors(rpc):
    answer = await rpc.gw("get_user", {}, key="z" * 40, key_field="auth_token", id="u-1")
    assert answer == {"id": "u-1", "result": None, "error": "Invalid API KEY"}
    answer = await rpc.gw("get_usr", {}, key_field="auth_token", id=2)
    assert answer["error"].startswith("No such method: get_usr. Similar methods: ")
    # a canonical argument Kallithea lacks, with a value that matters, is refused, not dropped
    answer = await rpc.gw("create_user", {"username": "x", "email": "x@example.com", "force_password_change": True},
                          key_field="auth_token")
    assert answer["error"] == ("Argument `force_password_change` of `create_user` is not supported "
                               "by the server behind this gateway")
    answer = await rpc.gw("strip", {"repoid": "r", "revision": "0", "branch": "default"}, key_field="auth_token")
    assert answer["error"] == ("Method `strip` is not supported by the server behind this gateway: "
                               "Kallithea has no API method to strip revisions")


async def test_api_key_field_also_works_on_the_modern_endpoint(rpc):
    me = await rpc.ok("get_user", {}, dialect="rhodecode")  # several 4.x clients send api_key
    assert me["username"] == rpc.kallithea.admin_username
