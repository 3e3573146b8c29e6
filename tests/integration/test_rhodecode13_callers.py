"""Scripts written for RhodeCode 1.2 / 1.3 (seed 004), in front of the real Kallithea 0.7.0.

They get the shapes 1.3 answered (`id` for every id, `type`, `ldap`, `{id, msg}` from writes, `{msg}`
from deletes and grants), by each of the three ways a caller is known as a 1.3 script: a 1.3 argument
spelling in the call, its key pinned to `rhodecode1@1.3` in the config, or the versioned path
`/rhodecode1@1.3/_admin/api`. A 1.4 - 1.7 script on the same gateway keeps the 1.7 shapes.
"""
from __future__ import annotations

import pytest

from gateway.app import create_app
from gateway.audit import key_fingerprint

from .conftest import Rpc, gateway_config, unique
from .test_legacy_callers_on_422 import post_sync

pytestmark = pytest.mark.kallithea

V13 = "rhodecode1@1.3"
USER_13 = {"id", "username", "firstname", "lastname", "email", "active", "admin", "ldap_dn", "last_login"}
MEMBER_13 = {"id", "username", "firstname", "lastname", "email", "active", "admin", "ldap"}
REPO_13 = {"id", "repo_name", "type", "description", "clone_uri", "private", "created_on"}


async def test_versioned_path_answers_users_in_13_shapes(rpc):
    name = unique("u13")
    created = await rpc.ok("create_user", {"username": name, "email": f"{name}@example.com", "password": "Secr3tPass",
                                           "firstname": "Ann"}, dialect=V13)
    own = await rpc.direct_ok("get_user", {"userid": name})
    assert created == {"id": own["user_id"], "msg": f"created new user `{name}`"}

    got = await rpc.ok("get_user", {"userid": name}, dialect=V13)
    assert set(got) == USER_13 | {"permissions"}
    assert (got["id"], got["username"], got["firstname"]) == (own["user_id"], name, "Ann")
    listed = await rpc.ok("get_users", {}, dialect=V13)
    assert all(set(u) == USER_13 for u in listed), listed[:2]  # list items: no permissions, as 1.3

    updated = await rpc.ok("update_user", {"userid": name, "lastname": "Doe"}, dialect=V13)
    assert updated == {"id": own["user_id"], "msg": f"updated user ID:{own['user_id']} {name}"}
    assert (await rpc.direct_ok("get_user", {"userid": name}))["lastname"] == "Doe"

    # the same gateway, the 1.7 path: 1.7's shapes
    assert "user_id" in await rpc.ok("get_user", {"userid": name}, dialect="rhodecode1")


async def test_13_spellings_get_13_shapes_on_any_path(rpc):
    member, group = unique("m13"), unique("g13")
    await rpc.direct_ok("create_user", {"username": member, "email": f"{member}@example.com", "password": "Secr3tPass"})
    created = await rpc.ok("create_users_group", {"group_name": group}, dialect=V13)
    own = await rpc.direct_ok("get_user_group", {"usergroupid": group})
    assert created == {"id": own["users_group_id"], "msg": f"created new user group `{group}`"}

    for endpoint in ("rhodecode1", None):  # `group_name`, `username`: the 1.3 spellings tell the version
        added = await rpc.ok("add_user_to_users_group", {"group_name": group, "username": member}, dialect=endpoint)
        assert set(added) == {"id", "success", "msg"} and added["id"] is None  # the membership's id: unknown
        on_server = await rpc.direct_ok("get_user_group", {"usergroupid": group})
        assert [m["username"] for m in on_server["members"]] == [member]  # as Kallithea then has it
        got = await rpc.ok("get_users_group", {"group_name": group}, dialect=endpoint)
        assert set(got) == {"id", "group_name", "active", "members"} and got["id"] == own["users_group_id"]
        assert [set(m) for m in got["members"]] == [MEMBER_13]
        assert got["members"][0]["username"] == member and got["members"][0]["ldap"] is None  # a built-in account
        removed = await rpc.ok("remove_user_from_users_group", {"group_name": group, "username": member},
                               dialect=endpoint)
        assert removed == {"success": True, "msg": f"removed member `{member}` from user group `{group}`"}
        assert (await rpc.direct_ok("get_user_group", {"usergroupid": group}))["members"] == []

    # the 1.4+ spelling of the same call: the 1.7 shape
    got = await rpc.ok("get_users_group", {"usersgroupid": group}, dialect="rhodecode1")
    assert "users_group_id" in got and "id" not in got


async def test_13_repository_calls(rpc, hg_remote):
    member, group, name = unique("rm13"), unique("rg13"), unique("r13")
    await rpc.direct_ok("create_user", {"username": member, "email": f"{member}@example.com", "password": "Secr3tPass"})
    await rpc.direct_ok("create_user_group", {"group_name": group})
    created = await rpc.ok("create_repo", {"repo_name": name, "owner_name": rpc.kallithea.admin_username,
                                           "description": "thirteen", "clone_uri": hg_remote}, dialect="rhodecode1")
    own = await rpc.direct_ok("get_repo", {"repoid": name})
    assert created == {"id": own["repo_id"], "msg": f"Created new repository `{name}`"}
    assert (own["description"], own["owner"], own["clone_uri"]) == ("thirteen", rpc.kallithea.admin_username,
                                                                     hg_remote)

    granted = await rpc.ok("grant_user_permission", {"repo_name": name, "username": member, "perm": "repository.write"})
    assert set(granted) == {"msg"} and member in granted["msg"]
    granted = await rpc.ok("grant_users_group_permission", {"repo_name": name, "group_name": group,
                                                            "perm": "repository.read"}, dialect="rhodecode1")
    assert set(granted) == {"msg"}
    members = {(m["name"], m["type"]): m["permission"]
               for m in (await rpc.direct_ok("get_repo", {"repoid": name}))["members"]}  # as Kallithea then has them
    assert (members[(member, "user")], members[(group, "user_group")]) == ("repository.write", "repository.read")

    got = await rpc.ok("get_repo", {"repoid": name}, dialect=V13)
    assert set(got) == REPO_13 | {"members"}
    assert (got["id"], got["type"], got["description"]) == (own["repo_id"], "hg", "thirteen")
    by_kind = {m["type"]: m for m in got["members"] if m.get("username") != rpc.kallithea.admin_username
               and m.get("username") != "default"}
    user, users_group = by_kind["user"], by_kind["users_group"]
    assert set(user) == MEMBER_13 | {"type", "permission"}
    assert (user["username"], user["permission"]) == (member, "repository.write")
    assert user["id"] == (await rpc.direct_ok("get_user", {"userid": member}))["user_id"]  # read from its record
    assert set(users_group) == {"type", "id", "name", "active", "permission"}
    assert (users_group["name"], users_group["active"], users_group["permission"]) == (group, True, "repository.read")
    assert users_group["id"] == (await rpc.direct_ok("get_user_group", {"usergroupid": group}))["users_group_id"]
    listed = await rpc.ok("get_repos", {}, dialect=V13)
    assert all(set(r) == REPO_13 for r in listed)

    nodes = await rpc.ok("get_repo_nodes", {"repo_name": name, "revision": "tip", "root_path": ""})
    own_nodes = await rpc.direct_ok("get_repo_nodes", {"repoid": name, "revision": "tip", "root_path": ""})
    assert nodes == [{"name": n["name"], "type": n["type"]} for n in own_nodes] and nodes
    revoked = await rpc.ok("revoke_users_group_permission", {"repo_name": name, "users_group": group})
    assert set(revoked) == {"msg"}
    revoked = await rpc.ok("revoke_user_permission", {"repo_name": name, "username": member})
    assert set(revoked) == {"msg"}
    left = {m["name"] for m in (await rpc.direct_ok("get_repo", {"repoid": name}))["members"]}
    assert member not in left and group not in left
    deleted = await rpc.ok("delete_repo", {"repo_name": name})
    assert deleted == {"msg": f"Deleted repository `{name}`"}
    assert (await rpc.direct("get_repo", {"repoid": name}))["error"] is not None


async def test_a_key_pinned_to_13_gets_13_shapes_everywhere(kallithea, aiohttp_client, tmp_path):
    pinned, other = kallithea.admin_key, kallithea.user_key
    config = gateway_config(kallithea.url, tmp_path / "audit.jsonl", callers={"old-cron": (key_fingerprint(pinned),)},
                            pinned_versions={"old-cron": V13})
    rpc = Rpc(await aiohttp_client(create_app(config)), kallithea, tmp_path / "audit.jsonl")
    # a 1.4+ spelling, on the auto path: the key decides
    got = await rpc.ok("get_user", {"userid": kallithea.admin_username}, dialect="rhodecode1")
    assert set(got) == USER_13 | {"permissions"}
    # another key on the same gateway: 1.7 (get_user of itself: any key may)
    mine = await rpc.ok("get_user", {}, dialect="rhodecode1", key=other)
    assert "user_id" in mine and "id" not in mine
    # a Kallithea caller with the pinned key: a pin is for the dialect it names only
    assert "user_id" in await rpc.ok("get_user", {"userid": kallithea.admin_username}, dialect="kallithea")


async def test_unknown_version_path_is_not_an_endpoint(rpc):
    response = await rpc.client.post("/rhodecode1@9.9/_admin/api", data=b'{"id":1,"api_key":"k","method":"get_user","args":{}}')
    assert response.status == 404


@pytest.mark.rhodecode17
async def test_13_scripts_in_front_of_a_real_rhodecode_17(rhodecode17, aiohttp_client, tmp_path):
    """1.7.2 no longer knows the 1.3 spellings nor answers `{id, msg}`: rcgate says both for it."""
    app = create_app(gateway_config(rhodecode17.url, tmp_path / "audit.jsonl", backend_dialect="rhodecode1"))
    rpc = Rpc(await aiohttp_client(app), rhodecode17, tmp_path / "audit.jsonl")
    name, group = unique("o13"), unique("og13")
    created = await rpc.ok("create_user", {"username": name, "email": f"{name}@example.com", "password": "Secr3tPass",
                                           "name": "Ann"}, dialect=None)  # `name`: RhodeCode 1.2's firstname
    own = await rpc.direct_ok("get_user", {"userid": name})
    assert created == {"id": own["user_id"], "msg": f"created new user `{name}`"} and own["firstname"] == "Ann"
    created = await rpc.ok("create_users_group", {"name": group}, dialect="rhodecode1")
    assert set(created) == {"id", "msg"}
    await rpc.ok("add_user_to_users_group", {"group_name": group, "username": name})
    on_server = post_sync(rhodecode17.api_url, {"id": 1, "api_key": rhodecode17.admin_key,
                                                "method": "get_users_group", "args": {"usersgroupid": group}})
    assert [m["username"] for m in on_server["result"]["members"]] == [name]  # as RhodeCode 1.7.2 then has it
    got = await rpc.ok("get_users_group", {"group_name": group})
    assert got["id"] == created["id"] and [set(m) for m in got["members"]] == [MEMBER_13]
    assert got["members"][0]["id"] == own["user_id"]
