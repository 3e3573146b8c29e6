"""A RhodeCode 1.x script through rcgate, in front of Kallithea, gets the 1.x shapes back."""
from __future__ import annotations

import pytest

from .conftest import unique

pytestmark = pytest.mark.kallithea

RC1 = "rhodecode1"
USER_FIELDS_1X = {"user_id", "username", "firstname", "lastname", "email", "emails", "active", "admin"}


@pytest.fixture(params=[RC1, None], ids=["rhodecode1-endpoint", "auto-endpoint"])
def endpoint(request):
    """Every 1.x call below uses names only 1.x has, so auto detection must pick rhodecode1."""
    return request.param


@pytest.fixture
async def member(rpc):
    name = unique("m1")
    await rpc.direct_ok("create_user", {"username": name, "email": f"{name}@example.com", "password": "Secr3tPass"})
    return name


async def test_users_group_calls_answer_in_1x_shapes(rpc, member, endpoint):
    group = unique("g1")
    created = await rpc.ok("create_users_group", {"group_name": group, "owner": rpc.kallithea.admin_username}, dialect=endpoint)
    assert created["msg"] == f"created new user group `{group}`"
    assert set(created) == {"msg", "users_group"}
    assert created["users_group"]["group_name"] == group
    assert set(created["users_group"]) == {"users_group_id", "group_name", "active"}  # 1.7.2: no members here

    added = await rpc.ok("add_user_to_users_group", {"usersgroupid": group, "userid": member}, dialect=endpoint)
    assert added == {"success": True, "msg": f"added member `{member}` to user group `{group}`"}
    again = await rpc.ok("add_user_users_group", {"usersgroupid": group, "userid": member}, dialect=endpoint)
    assert again == {"success": False, "msg": "User is already in that group"}

    got = await rpc.ok("get_users_group", {"usersgroupid": group}, dialect=endpoint)
    assert got["users_group_id"] == created["users_group"]["users_group_id"]
    assert [m["username"] for m in got["members"]] == [member]
    assert set(got["members"][0]) >= USER_FIELDS_1X
    listed = await rpc.ok("get_users_groups", {}, dialect=endpoint)
    mine = [g for g in listed if g["group_name"] == group]
    assert mine and "members" not in mine[0]  # 1.4 - 1.7 list items carry no members

    removed = await rpc.ok("remove_user_from_users_group", {"usersgroupid": group, "userid": member}, dialect=endpoint)
    assert removed == {"success": True, "msg": f"removed member `{member}` from user group `{group}`"}


async def test_create_repo_answers_with_the_new_repository(rpc, endpoint):
    name = unique("r1")
    dialect = endpoint or RC1  # create_repo's args are shared by every dialect: auto picks the fallback
    created = await rpc.ok("create_repo", {"repo_name": name, "owner": rpc.kallithea.admin_username,
                                           "repo_type": "hg", "landing_rev": "tip"}, dialect=dialect)
    assert created["msg"] == f"Created new repository `{name}`"
    assert set(created) == {"msg", "repo"}
    repo = created["repo"]
    assert repo["repo_name"] == name and repo["owner"] == rpc.kallithea.admin_username
    assert repo["landing_rev"] == "tip"  # 1.x: a string, not ["rev", "tip"]
    got = await rpc.ok("get_repo", {"repoid": name}, dialect=RC1)
    assert repo == {k: v for k, v in got.items() if k not in ("members", "followers")}  # as 1.7.2's create_repo


async def test_pull_with_repo_name_answers_a_bare_string(rpc, hg_remote, endpoint):
    name = unique("mirror1")
    await rpc.direct_ok("create_repo", {"repo_name": name, "repo_type": "hg", "clone_uri": hg_remote})
    assert await rpc.ok("pull", {"repo_name": name}, dialect=endpoint) == f"Pulled from `{name}`"
    assert await rpc.ok("pull", {"repo": name}, dialect=endpoint) == f"Pulled from `{name}`"  # RhodeCode 1.2
    assert await rpc.ok("pull", {"repoid": name}, dialect=RC1) == f"Pulled from `{name}`"


async def test_pull_failure_keeps_the_message(rpc):
    name = unique("nopull")
    await rpc.direct_ok("create_repo", {"repo_name": name, "repo_type": "hg"})
    answer = await rpc.gw("pull", {"repo_name": name}, id="p1")
    assert answer == {"id": "p1", "result": None, "error": f"Unable to pull changes from `{name}`"}


async def test_get_repo_members_and_landing_rev_in_1x_form(rpc, member):
    group, name = unique("gm"), unique("rm")
    await rpc.direct_ok("create_user_group", {"group_name": group})
    await rpc.direct_ok("create_repo", {"repo_name": name, "repo_type": "hg"})
    granted = await rpc.ok("grant_users_group_permission",
                           {"repoid": name, "usersgroupid": group, "perm": "repository.write"}, dialect=RC1)
    assert granted == {"msg": f"Granted perm: `repository.write` for user group: `{group}` in repo: `{name}`",
                       "success": True}
    granted = await rpc.ok("grant_user_permission", {"repo_name": name, "username": member, "perm": "repository.read"},
                           dialect=RC1)
    assert set(granted) == {"msg"}  # `repo_name`, `username`: a 1.3 script, answered as 1.3 did
    repo = await rpc.ok("get_repo", {"repoid": name}, dialect=RC1)
    assert repo["landing_rev"] == "tip"
    types = {m.get("username") or m.get("group_name"): m["type"] for m in repo["members"]}  # 1.x's own names
    assert types[group] == "users_group" and types[member] == "user"  # 1.x tag for group entries
    revoked = await rpc.ok("revoke_users_group_permission", {"repo_name": name, "users_group": group}, dialect=RC1)
    assert revoked == {"msg": f"Revoked perm for user group: `{group}` in repo: `{name}`"}  # 1.3 spellings
    revoked = await rpc.ok("revoke_user_permission", {"repoid": name, "userid": member}, dialect=RC1)
    assert revoked["success"] is True


async def test_user_calls_answer_in_1x_shapes(rpc):
    name = unique("u1")
    created = await rpc.ok("create_user", {"username": name, "email": f"{name}@example.com", "password": "Secr3tPass",
                                           "firstname": "Old", "ldap_dn": ""}, dialect=RC1)
    assert created["msg"] == f"created new user `{name}`"
    assert set(created["user"]) >= USER_FIELDS_1X
    updated = await rpc.ok("update_user", {"userid": name, "lastname": "Script"}, dialect=RC1)
    assert updated["msg"] == f"updated user ID:{created['user']['user_id']} {name}"
    assert updated["user"]["lastname"] == "Script"
    got = await rpc.ok("get_user", {"userid": name}, dialect=RC1)
    assert got["username"] == name and "permissions" in got
    assert name in {u["username"] for u in await rpc.ok("get_users", {}, dialect=RC1)}
    deleted = await rpc.ok("delete_user", {"userid": name}, dialect=RC1)
    assert deleted == {"msg": f"deleted user ID:{created['user']['user_id']} {name}", "user": None}


async def test_fork_and_delete_repo(rpc):
    name, fork = unique("rf"), unique("fk")
    await rpc.direct_ok("create_repo", {"repo_name": name, "repo_type": "hg"})
    forked = await rpc.ok("fork_repo", {"repoid": name, "fork_name": fork, "landing_rev": "tip"}, dialect=RC1)
    assert forked == {"msg": f"Created fork of `{name}` as `{fork}`", "success": True}
    assert (await rpc.ok("get_repo", {"repoid": fork}, dialect=RC1))["fork_of"] == name
    deleted = await rpc.ok("delete_repo", {"repoid": fork}, dialect=RC1)
    assert deleted == {"msg": f"Deleted repository `{fork}`", "success": True}


async def test_1x_errors_in_1x_words(rpc):
    assert await rpc.gw("get_users_group", {"usersgroupid": "x"}, key="y" * 40, id=9) == {
        "id": 9, "result": None, "error": "Invalid API KEY"}
    assert await rpc.gw("get_users_group", {}, id=9) == {
        "id": 9, "result": None, "error": "Missing non optional `usersgroupid` arg in JSON DATA"}
    # 1.x dropped arguments it did not know; the call goes through
    got = await rpc.gw("get_users_groups", {"whatever": 1}, dialect=RC1)
    assert got["error"] is None
    assert await rpc.gw("no_such_method", {}, dialect=RC1, id=3) == {
        "id": 3, "result": None, "error": "No such method: no_such_method"}
