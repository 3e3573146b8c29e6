"""The migration bridge: a real RhodeCode 1.7.2 (the old instance) and a real Kallithea 0.7.0 (the new
one) behind one rcgate, repositories moving in waves.

Routes send repositories matching this run's wave glob to the new instance, everything else to the
old one. Scripts keep using the old instance's key: the credential map of `new` swaps it for a key
Kallithea knows. Every check of where a call landed is made on the servers themselves.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import textwrap
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.app import create_app
from gateway.config import load_config

from .conftest import REPO_ROOT, _loads, unique

pytestmark = [pytest.mark.kallithea, pytest.mark.rhodecode17]

WAVE = unique("wave")  # this run's first wave: repositories named WAVE-* live on the new instance
DIALECT_KEY_FIELD = {"rhodecode1": "api_key", "kallithea": "api_key", "rhodecode": "auth_token"}


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def write_map(path: Path, pairs: dict[str, str]) -> Path:
    path.write_text("keys:\n" + "".join(f"  {sha(old)}: {new}\n" for old, new in pairs.items()))
    os.chmod(path, 0o600)
    return path


def bridge_config(tmp_path: Path, old, new, extra_backends: tuple[str, ...] = (), extra_routes: tuple[str, ...] = (),
                  unmapped: str = "refuse") -> Path:
    """old: RhodeCode 1.7.2; new: Kallithea, reached with a key swapped by its credential map."""
    creds = write_map(tmp_path / "new-credentials.yaml", {old.admin_key: new.admin_key, old.user_key: new.user_key})
    lines = [
        f"mappings: {REPO_ROOT / 'mappings'}",
        f"audit: {{path: {tmp_path / 'audit.jsonl'}}}",
        "backends:",
        f'  old: {{url: "{old.url}", dialect: rhodecode1, timeout: 30}}',
        f'  new: {{url: "{new.url}", dialect: kallithea, timeout: 30, credentials: {creds.name}, unmapped: {unmapped}}}',
        *(f"  {b}" for b in extra_backends),
        "routes:",
        f'  - {{repo: ["{WAVE}-*", "{WAVE}/*"], backend: new}}',
        *(f"  - {r}" for r in extra_routes),
        "  - {backend: old}",
    ]
    path = tmp_path / "bridge.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Bridge:
    def __init__(self, client, old, new, audit_path: Path) -> None:
        self.client, self.old, self.new, self.audit_path = client, old, new, audit_path

    async def call(self, dialect: str, method: str, args: dict | None = None, key: str | None = None,
                   id: Any = 1) -> dict:
        body = {"id": id, DIALECT_KEY_FIELD[dialect]: key or self.old.admin_key, "method": method, "args": args or {}}
        response = await self.client.post(f"/{dialect}/_admin/api", data=json.dumps(body).encode(),
                                          headers={"Content-Type": "text/plain"})
        assert response.status == 200
        return _loads(await response.read())

    async def ok(self, dialect: str, method: str, args: dict | None = None, **kw: Any) -> Any:
        answer = await self.call(dialect, method, args, **kw)
        assert answer["error"] is None, (dialect, method, args, answer)
        return answer["result"]

    async def audit(self, at_least: int) -> list[dict]:
        for _ in range(200):
            lines = self.audit_path.read_text().splitlines() if self.audit_path.exists() else []
            if len(lines) >= at_least:
                return [json.loads(line) for line in lines]
            await asyncio.sleep(0.02)
        raise AssertionError(f"fewer than {at_least} audit records")


async def direct(server, method: str, args: dict | None = None) -> dict:
    """Straight to one server, in its own dialect (both take `api_key`)."""
    body = json.dumps({"id": 1, "api_key": server.admin_key, "method": method, "args": args or {}}).encode()
    async with aiohttp.ClientSession() as session:
        async with session.post(server.api_url, data=body, headers={"Content-Type": "application/json"}) as r:
            return _loads(await r.read())


async def exists(server, repo: str) -> bool:
    return (await direct(server, "get_repo", {"repoid": repo}))["error"] is None


@pytest.fixture
async def bridge(rhodecode17, kallithea, aiohttp_client, tmp_path) -> Bridge:
    config = load_config(bridge_config(tmp_path, rhodecode17, kallithea))
    client = await aiohttp_client(create_app(config))
    return Bridge(client, rhodecode17, kallithea, tmp_path / "audit.jsonl")


# ------------------------------------------------------------------------------- where calls land


@pytest.mark.parametrize("dialect", ["rhodecode1", "kallithea", "rhodecode"])
async def test_create_repo_lands_on_the_instance_its_wave_says(bridge, dialect):
    moved, stays = f"{WAVE}-{unique(dialect[:3])}", unique(f"{dialect[:3]}-old")
    args = {"repo_type": "hg", "description": "made through the bridge"}
    await bridge.ok(dialect, "create_repo", {"repo_name": moved, **args})
    await bridge.ok(dialect, "create_repo", {"repo_name": stays, **args})
    assert await exists(bridge.new, moved) and not await exists(bridge.old, moved)
    assert await exists(bridge.old, stays) and not await exists(bridge.new, stays)


@pytest.mark.parametrize("dialect", ["rhodecode1", "kallithea", "rhodecode"])
async def test_calls_on_a_repository_reach_the_instance_that_holds_it(bridge, dialect):
    moved, stays = f"{WAVE}-{unique('a')}", unique("b-old")
    assert (await direct(bridge.new, "create_repo", {"repo_name": moved, "repo_type": "hg"}))["error"] is None
    assert (await direct(bridge.old, "create_repo", {"repo_name": stays, "repo_type": "hg", "owner": "admin"}))[
        "error"] is None
    for repo in (moved, stays):
        holder, other = (bridge.new, bridge.old) if repo == moved else (bridge.old, bridge.new)
        # the caller names the old instance's user; each instance has a user of that name
        await bridge.ok(dialect, "grant_user_permission", {"repoid": repo, "userid": holder.user_username, "perm": "repository.write"})
        members = (await direct(holder, "get_repo", {"repoid": repo}))["result"]["members"]
        assert {(m.get("name") or m.get("username"), m["permission"]) for m in members} >= {
            (holder.user_username, "repository.write")}
        assert not await exists(other, repo)
        got = await bridge.ok(dialect, "get_repo", {"repoid": repo})
        assert got["repo_name"] == repo


async def test_update_repo_is_the_old_servers_own_failure(bridge):
    """RhodeCode 1.7.2's update_repo fails on every call (it hands its model the repository where a name is
    expected); a 1.x script gets exactly that answer through rcgate, as from its own server."""
    stays = unique("upd-old")
    assert (await direct(bridge.old, "create_repo", {"repo_name": stays, "repo_type": "hg", "owner": "admin"}))[
        "error"] is None
    args = {"repoid": stays, "description": "new"}
    assert await bridge.call("rhodecode1", "update_repo", args) == await direct(bridge.old, "update_repo", args)


async def test_a_repository_group_path_routes_like_its_repositories(bridge):
    group = f"{WAVE}/{unique('grp')}"
    assert (await direct(bridge.new, "create_repo_group", {"group_name": WAVE}))["error"] in (
        None, f"repo group `{WAVE}` already exist")
    created = await bridge.ok("rhodecode", "create_repo_group", {"group_name": group})
    assert created["repo_group"]["group_name"] == group
    assert (await direct(bridge.new, "get_repo_group", {"repogroupid": group}))["error"] is None


async def test_numeric_ids_follow_the_default_route(bridge):
    repo = unique("byid-old")
    made = await direct(bridge.old, "create_repo", {"repo_name": repo, "repo_type": "hg", "owner": "admin"})
    repo_id = made["result"]["repo"]["repo_id"]
    got = await bridge.ok("rhodecode1", "get_repo", {"repoid": repo_id})
    assert got["repo_name"] == repo  # the old instance's id, asked of the old instance


# ------------------------------------------------------------------------------- listings


@pytest.mark.parametrize("dialect", ["rhodecode1", "kallithea", "rhodecode"])
async def test_get_repos_lists_every_repository_once_each_from_its_owner(bridge, dialect):
    both = f"{WAVE}-{unique('copied')}"  # moved: a copy is still on the old instance
    for server in (bridge.old, bridge.new):
        assert (await direct(server, "create_repo", {"repo_name": both, "repo_type": "hg", "owner": "admin",
                                                     "description": server.url}))["error"] is None
    old_names = {r["repo_name"] for r in (await direct(bridge.old, "get_repos"))["result"]}
    new_names = {r["repo_name"] for r in (await direct(bridge.new, "get_repos"))["result"]}
    moved = lambda n: n.startswith(f"{WAVE}-") or n.startswith(f"{WAVE}/")  # noqa: E731
    listed = await bridge.ok(dialect, "get_repos")
    names = [r["repo_name"] for r in listed]
    assert len(names) == len(set(names)), "a repository listed twice"
    assert set(names) == {n for n in old_names if not moved(n)} | {n for n in new_names if moved(n)}
    copied = next(r for r in listed if r["repo_name"] == both)
    assert copied["description"] == bridge.new.url  # the new instance's copy, not the old one's


async def test_a_listing_fails_whole_when_one_of_its_backends_is_down(rhodecode17, kallithea, aiohttp_client,
                                                                       tmp_path):
    path = bridge_config(tmp_path, rhodecode17, kallithea,
                         extra_backends=('gone: {url: "http://127.0.0.1:9", dialect: kallithea, timeout: 5}',),
                         extra_routes=('{repo: "gone-*", backend: gone}',))
    bridge = Bridge(await aiohttp_client(create_app(load_config(path))), rhodecode17, kallithea,
                    tmp_path / "audit.jsonl")
    answer = await bridge.call("kallithea", "get_repos")
    assert answer["result"] is None
    assert answer["error"] == "The server behind this gateway is unavailable: connection refused"
    assert (await bridge.call("kallithea", "get_user"))["error"] is None  # calls routed elsewhere still work


# ------------------------------------------------------------------------------- keys


async def test_the_old_key_is_swapped_for_the_new_instances_key(bridge):
    moved = f"{WAVE}-{unique('key')}"
    assert (await direct(bridge.new, "create_repo", {"repo_name": moved, "repo_type": "hg"}))["error"] is None
    # the caller sends RhodeCode 1.7's key; Kallithea itself does not know it
    assert (await bridge.call("kallithea", "get_repo", {"repoid": moved}))["error"] is None
    body = {"id": 1, "api_key": bridge.old.admin_key, "method": "get_repo", "args": {"repoid": moved}}
    async with aiohttp.ClientSession() as s, s.post(bridge.new.api_url, json=body) as r:
        assert (await r.json())["error"] == "Invalid API key"
    as_user = await bridge.call("rhodecode1", "get_repo", {"repoid": moved}, key=bridge.old.user_key)
    assert as_user["error"] is None  # the non-admin's key is mapped to Kallithea's non-admin key


async def test_an_unmapped_key_never_reaches_a_backend_that_refuses_them(bridge):
    moved = f"{WAVE}-{unique('unmapped')}"
    # the new instance's own admin key is not in its map (unmapped: refuse): refused here, in 1.x words
    answer = await bridge.call("rhodecode1", "get_repo", {"repoid": moved}, key=bridge.new.admin_key)
    assert answer == {"id": 1, "result": None, "error": "Invalid API KEY"}


# ------------------------------------------------------------------------------- audit


async def test_every_audit_record_names_its_backend(bridge):
    moved = f"{WAVE}-{unique('audit')}"
    await bridge.ok("kallithea", "create_repo", {"repo_name": moved, "repo_type": "hg"})
    await bridge.ok("kallithea", "get_user")
    await bridge.ok("kallithea", "get_repos")
    records = await bridge.audit(3)
    assert [r["backend"] for r in records[-3:]] == ["new", "old", "new,old"]
    assert all("backend" in r for r in records)


# ------------------------------------------------------------------------------- faults stay local


async def test_killing_one_backend_fails_only_the_calls_routed_to_it(rhodecode17, kallithea, aiohttp_client,
                                                                      tmp_path):
    from tests.conftest import _load_rhodecode17_server_module

    doomed = _load_rhodecode17_server_module().RhodeCode17Server()
    doomed.start(home=tmp_path / "doomed")  # a third instance of its own, so that killing it harms no other test
    try:
        path = bridge_config(tmp_path, rhodecode17, kallithea,
                             extra_backends=(f'doomed: {{url: "{doomed.url}", dialect: rhodecode1, timeout: 10}}',),
                             extra_routes=('{repo: "doomed-*", backend: doomed}',))
        bridge = Bridge(await aiohttp_client(create_app(load_config(path))), rhodecode17, kallithea,
                        tmp_path / "audit.jsonl")
        # the caller's key is the old instance's: the doomed instance has its own keys, and no map
        assert (await bridge.call("rhodecode1", "get_repo", {"repoid": "doomed-x"}))["error"] == "Invalid API KEY"
        pid = doomed.pid
        doomed.stop()
        assert pid is not None and not Path(f"/proc/{pid}").exists()
        moved = f"{WAVE}-{unique('alive')}"
        for dialect in ("rhodecode1", "kallithea", "rhodecode"):
            gone = await bridge.call(dialect, "get_repo", {"repoid": "doomed-x"})
            assert gone["error"] == "The server behind this gateway is unavailable: connection refused", gone
            assert (await bridge.call(dialect, "get_user"))["error"] is None  # the old instance
            await bridge.ok(dialect, "create_repo", {"repo_name": f"{moved}-{dialect}", "repo_type": "hg"})  # new
        listed = await bridge.call("kallithea", "get_repos")  # may hold doomed-* repositories: never partial
        assert listed["result"] is None and "unavailable" in listed["error"]
    finally:
        doomed.stop()
