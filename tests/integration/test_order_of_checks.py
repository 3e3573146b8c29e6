"""The servers' order of checks: the key first (RhodeCode 1.x, Kallithea), or the method first and then the
key (RhodeCode 4.x); and a refused permission that Kallithea answers like a crash.

rcgate refuses some calls itself (an unknown method, a missing or unknown argument, a method the backend
cannot serve). A real server would have looked at the key before that, so on those paths rcgate asks the
backend whether the key is good. Each case is compared with the real server of the caller's dialect
where one runs here: the same bad-key call sent straight to RhodeCode 1.7.2 or Kallithea.
"""
from __future__ import annotations

import json

import aiohttp
import pytest

from gateway.app import create_app

from .conftest import Rpc, _loads, gateway_config

pytestmark = [pytest.mark.kallithea, pytest.mark.rhodecode17]

BAD = "0" * 40
# (method, args): refusals rcgate makes itself, before the backend is asked anything
REFUSED_HERE = [
    ("no_such_method", {}),
    ("_private", {}),
    ("get_repo", {}),                                  # a missing argument
    ("get_repo", {"repoid": "x", "not_an_arg": 1}),   # an unknown argument (refused by Kallithea, dropped by 1.x)
]


async def direct(server, method: str, args: dict, key: str, key_field: str = "api_key") -> dict:
    body = {"id": 7, key_field: key, "method": method, "args": args}
    async with aiohttp.ClientSession() as s, s.post(server.api_url, data=json.dumps(body).encode(),
                                                    headers={"Content-Type": "application/json"}) as r:
        return _loads(await r.read())


@pytest.fixture
async def on_kallithea(kallithea, aiohttp_client, tmp_path) -> Rpc:
    return Rpc(await aiohttp_client(create_app(gateway_config(kallithea.url, tmp_path / "a.jsonl"))), kallithea,
               tmp_path / "a.jsonl")


@pytest.fixture
async def on_rc17(rhodecode17, aiohttp_client, tmp_path) -> Rpc:
    app = create_app(gateway_config(rhodecode17.url, tmp_path / "b.jsonl", backend_dialect="rhodecode1"))
    return Rpc(await aiohttp_client(app), rhodecode17, tmp_path / "b.jsonl")


@pytest.mark.parametrize("method, args", REFUSED_HERE)
async def test_a_1x_caller_with_a_bad_key_gets_1x_answers_in_front_of_kallithea(on_kallithea, rhodecode17,
                                                                                 method, args):
    through = await on_kallithea.gw(method, args, dialect="rhodecode1", key=BAD, id=7)
    assert through == await direct(rhodecode17, method, args, BAD)  # what RhodeCode 1.7.2 itself answers
    assert through["error"] == "Invalid API KEY"


@pytest.mark.parametrize("method, args", REFUSED_HERE)
async def test_a_kallithea_caller_with_a_bad_key_gets_kallitheas_answers_in_front_of_rc17(on_rc17, kallithea,
                                                                                          method, args):
    through = await on_rc17.gw(method, args, dialect="kallithea", key=BAD, id=7)
    assert through == await direct(kallithea, method, args, BAD)  # what Kallithea 0.7.0 itself answers
    assert through["error"] == "Invalid API key"


async def test_with_a_good_key_the_refusal_stands(on_kallithea, kallithea):
    key = kallithea.admin_key
    assert (await on_kallithea.gw("no_such_method", {}, dialect="rhodecode1", key=key, id=7))["error"] == (
        "No such method: no_such_method")
    assert (await on_kallithea.gw("get_repo", {}, dialect="rhodecode1", key=key, id=7))["error"] == (
        "Missing non optional `repoid` arg in JSON DATA")
    assert (await on_kallithea.gw("lock", {"repoid": "x", "locked": True}, dialect="rhodecode1", key=key,
                                  id=7))["error"] == ("Argument `locked` of `lock` is not supported by the server "
                                                      "behind this gateway")


async def test_a_modern_caller_hears_of_the_method_before_the_key(on_kallithea):
    """4.x looks the method up before it checks the key, then checks the key before the arguments
    (tests/standin/recordings/rhodecode-4.22/_envelope.json, example 21)."""
    unknown = await on_kallithea.gw("xyzzy", {}, dialect="rhodecode", key=BAD, key_field="auth_token", id=7)
    assert unknown["error"].startswith("No such method: xyzzy. Similar methods: ")
    missing = await on_kallithea.gw("get_repo", {}, dialect="rhodecode", key=BAD, key_field="auth_token", id=7)
    assert missing["error"] == "Invalid API KEY"


async def test_the_key_check_is_one_read_and_only_on_refusals(on_kallithea, kallithea):
    from gateway.app import GATEWAY

    gw = on_kallithea.client.server.app[GATEWAY]
    before = gw.metrics._backend_latency.get("default")
    n0 = sum(before.counts) if before else 0
    await on_kallithea.gw("get_repo", {}, dialect="rhodecode1", key=BAD)
    n1 = sum(gw.metrics._backend_latency["default"].counts)
    assert n1 - n0 == 1  # the one read that asks about the key
    await on_kallithea.gw("get_users_groups", {}, dialect="rhodecode1", key=kallithea.admin_key)
    assert sum(gw.metrics._backend_latency["default"].counts) - n1 == 1  # a good call: only itself
    await on_kallithea.gw("get_user", {}, dialect="rhodecode1", key=kallithea.admin_key)
    assert sum(gw.metrics._backend_latency["default"].counts) - n1 == 3  # + Kallithea's users' IP list: one read


# ------------------------------------------------------------------ permissions Kallithea words as a crash


@pytest.mark.parametrize("dialect, key_field", [("rhodecode1", "api_key"), ("rhodecode", "auth_token")])
async def test_a_non_admin_hears_access_denied_where_kallithea_says_internal_server_error(
        on_kallithea, kallithea, rhodecode17, dialect, key_field):
    assert (await direct(kallithea, "get_users", {}, kallithea.user_key))["error"] == "Internal server error"
    answer = await on_kallithea.gw("get_users", {}, dialect=dialect, key=kallithea.user_key, key_field=key_field, id=7)
    assert answer["error"] == "Access was denied to this resource."
    if dialect == "rhodecode1":  # what RhodeCode 1.7.2 itself says to its non-admin user
        assert answer == await direct(rhodecode17, "get_users", {}, rhodecode17.user_key)


async def test_a_kallithea_caller_keeps_its_own_servers_words(on_kallithea, kallithea):
    answer = await on_kallithea.gw("get_users", {}, dialect="kallithea", key=kallithea.user_key, id=7)
    assert answer == await direct(kallithea, "get_users", {}, kallithea.user_key)


async def test_an_admins_crash_stays_a_crash(on_kallithea, kallithea):
    # a wrong argument type crashes Kallithea for an admin too (FACTS 2.1): not a permission matter
    answer = await on_kallithea.gw("get_changesets", {"repoid": "no-such-repo-x", "max_revisions": "x"},
                                   dialect="kallithea", key=kallithea.admin_key, id=7)
    assert answer["error"] is not None and answer["error"] != "Access was denied to this resource."
