"""A Kallithea script through rcgate gets what Kallithea itself answers (after JSON parsing)."""
from __future__ import annotations

import pytest

from .conftest import normalised, unique

pytestmark = pytest.mark.kallithea

K = "kallithea"


@pytest.fixture
async def world(rpc):
    """A user, a user group with that user, and a repository, made straight on Kallithea."""
    user, group, repo = unique("ku"), unique("kg"), unique("kr")
    await rpc.direct_ok("create_user", {"username": user, "email": f"{user}@example.com", "password": "Secr3tPass"})
    await rpc.direct_ok("create_user_group", {"group_name": group})
    await rpc.direct_ok("add_user_to_user_group", {"usergroupid": group, "userid": user})
    await rpc.direct_ok("create_repo", {"repo_name": repo, "repo_type": "hg"})
    return {"user": user, "group": group, "repo": repo}


@pytest.mark.parametrize("method, args", [
    ("get_user", {}),
    ("get_user", {"userid": "$user"}),
    ("get_users", {}),
    ("get_user_group", {"usergroupid": "$group"}),
    ("get_user_groups", {}),
    ("get_repo", {"repoid": "$repo"}),
    ("get_repos", {}),
    ("get_user", {"userid": "no-such-user"}),
    ("get_repo", {"repoid": "no-such-repo"}),
    ("get_user_group", {"usergroupid": "no-such-group"}),
    ("get_repo", {}),
    ("get_repo", {"repoid": "$repo", "bogus": 1}),
    ("no_such_method", {}),
])
@pytest.mark.parametrize("endpoint", ["kallithea", None], ids=["kallithea-endpoint", "auto-endpoint"])
async def test_reads_equal_kallithea_answers(rpc, world, method, args, endpoint):
    args = {k: world[v[1:]] if isinstance(v, str) and v.startswith("$") else v for k, v in args.items()}
    through = await rpc.gw(method, args, dialect=endpoint, id=42)
    direct = await rpc.direct(method, args, id=42)
    assert through == direct


async def test_reads_as_a_non_admin_equal_kallithea_answers(rpc, world):
    key = rpc.kallithea.user_key
    for method, args in [("get_user", {}), ("get_repos", {}), ("get_users", {}), ("get_user", {"userid": world["user"]})]:
        assert await rpc.gw(method, args, dialect=K, key=key) == await rpc.direct(method, args, key=key)


async def test_bad_key_is_kallithea_s_own_error(rpc):
    answer = await rpc.gw("get_user", {}, dialect=K, key="x" * 40, id=5)
    assert answer == await rpc.direct("get_user", {}, key="x" * 40, id=5)
    assert answer == {"id": 5, "result": None, "error": "Invalid API key"}


async def twin(rpc, steps):
    """Run `steps(call, names)` once through rcgate and once straight on Kallithea, on twin names."""
    mine, theirs = {}, {}
    answers_gw = await steps(lambda m, a: rpc.gw(m, a, dialect=K), mine)
    answers_direct = await steps(rpc.direct, theirs)
    mapping = {theirs[k]: mine[k] for k in theirs}
    assert [normalised(a, {}) for a in answers_gw] == [normalised(a, mapping) for a in answers_direct]
    return answers_gw


async def test_user_lifecycle_equals_kallithea(rpc):
    async def steps(call, names):
        names["u"] = u = unique("lu")
        return [
            await call("create_user", {"username": u, "email": f"{u}@example.com", "password": "Secr3tPass",
                                       "firstname": "Ann", "active": True}),
            await call("create_user", {"username": u, "email": f"{u}@example.com"}),  # duplicate
            await call("update_user", {"userid": u, "lastname": "Other"}),
            await call("delete_user", {"userid": u}),
            await call("delete_user", {"userid": u}),  # gone
        ]

    answers = await twin(rpc, steps)
    assert answers[0]["result"]["msg"].startswith("created new user `")
    assert answers[1]["error"].endswith("already exist")
    assert answers[4]["error"].endswith("does not exist")


async def test_user_group_membership_equals_kallithea(rpc, world):
    async def steps(call, names):
        names["g"] = g = unique("lg")
        return [
            await call("create_user_group", {"group_name": g, "description": "d"}),
            await call("add_user_to_user_group", {"usergroupid": g, "userid": world["user"]}),
            await call("add_user_to_user_group", {"usergroupid": g, "userid": world["user"]}),
            await call("get_user_group", {"usergroupid": g}),
            await call("remove_user_from_user_group", {"usergroupid": g, "userid": world["user"]}),
            await call("remove_user_from_user_group", {"usergroupid": g, "userid": world["user"]}),
        ]

    answers = await twin(rpc, steps)
    assert answers[1]["result"]["success"] is True and answers[2]["result"]["success"] is False


async def test_repository_lifecycle_and_permissions_equal_kallithea(rpc, world):
    async def steps(call, names):
        names["r"] = r = unique("lr")
        names["f"] = f = unique("lf")
        return [
            await call("create_repo", {"repo_name": r, "repo_type": "git", "description": "x"}),
            await call("create_repo", {"repo_name": r}),  # duplicate
            await call("fork_repo", {"repoid": r, "fork_name": f}),
            await call("grant_user_permission", {"repoid": r, "userid": world["user"], "perm": "repository.write"}),
            await call("grant_user_group_permission", {"repoid": r, "usergroupid": world["group"], "perm": "repository.read"}),
            await call("revoke_user_permission", {"repoid": r, "userid": world["user"]}),
            await call("revoke_user_group_permission", {"repoid": r, "usergroupid": world["group"]}),
            await call("delete_repo", {"repoid": r}),  # still has a fork
            await call("delete_repo", {"repoid": r, "forks": "detach"}),
            await call("delete_repo", {"repoid": f}),
        ]

    answers = await twin(rpc, steps)
    assert answers[0]["result"] == {"msg": answers[0]["result"]["msg"], "success": True}
    assert "attached forks" in answers[7]["error"]


async def test_pull_equals_kallithea(rpc, hg_remote):
    async def steps(call, names):
        names["m"] = m = unique("mirror")
        return [
            await call("create_repo", {"repo_name": m, "repo_type": "hg", "clone_uri": hg_remote}),
            await call("pull", {"repoid": m}),
            await call("pull", {"repoid": m, "clone_uri": hg_remote}),
        ]

    answers = await twin(rpc, steps)
    assert answers[1]["result"]["msg"].startswith("Pulled from `mirror-")
