"""The shadow diff: a real RhodeCode 1.7.2 (primary) and a real Kallithea 0.7.0 (shadow) holding the
same users, users group and repository, fresh instances of this module's own so that nothing else is on
them. Scripts call rcgate as RhodeCode 1.x callers; every read is also asked of Kallithea and the two
answers compared in the canonical form, into the diff log.

- equal data compares equal, for every read method both servers can serve;
- a difference seeded on one side (a repository's description, a group member) is reported at its exact
  path and nowhere else;
- no write reaches the shadow (checked on the Kallithea itself);
- a shadow that is down, or slower than its timeout, leaves the caller's answer as it was, without waiting
  for it (a fault injected on purpose: tests/faulty_backend.py), and is counted as failed; over
  `shadow_max_in_flight`, reads are skipped and counted;
- `rcgate shadow report` and `rcgate shadow replay` end to end.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from gateway.app import GATEWAY, create_app
from gateway.config import load_config
from gateway.mapping.engine import compile_mappings
from gateway.mapping.loader import load_mappings
from tests.conftest import _load_kallithea_server_module, _load_rhodecode17_server_module, _register_secrets
from tests.faulty_backend import FaultyBackend

from .conftest import REPO_ROOT, _loads, unique
from .test_every_method_kallithea import direct_sync

pytestmark = [pytest.mark.kallithea, pytest.mark.rhodecode17]

MAPPINGS = compile_mappings(load_mappings(REPO_ROOT / "mappings"))
SAME = {"firstname": "Ada", "lastname": "Lovelace", "active": True}


def post(server, method: str, args: dict | None = None, key: str | None = None) -> dict:
    """Straight to one server, the answer as it is (an error too)."""
    import urllib.request

    body = json.dumps({"id": 1, "api_key": key or server.admin_key, "method": method, "args": args or {}}).encode()
    req = urllib.request.Request(server.api_url, body, {"Content-Type": "text/plain"})
    with urllib.request.urlopen(req, timeout=60) as res:
        return json.load(res)


@pytest.fixture(scope="module")
def twins(tmp_path_factory, hg_remote):
    """(old, new, names): fresh RhodeCode 1.7.2 and Kallithea with the same data, made through each one's API."""
    rs, ks = _load_rhodecode17_server_module(), _load_kallithea_server_module()
    old, new = rs.RhodeCode17Server(), ks.KallitheaServer()
    try:
        try:
            old.start(home=tmp_path_factory.mktemp("shadow-rc17"))
        except rs.Python27Missing as e:
            pytest.skip(f"RhodeCode 1.7.2 not started: {e}")
        _register_secrets(old)
        new.start(home=tmp_path_factory.mktemp("shadow-kallithea"))
        _register_secrets(new)
        n = {"user": "sh-ada", "group": "sh-team", "repo": "sh-repo"}
        for server, group_call, add_call, grant_group, group_arg in (
                (old, "create_users_group", "add_user_to_users_group", "grant_users_group_permission", "usersgroupid"),
                (new, "create_user_group", "add_user_to_user_group", "grant_user_group_permission", "usergroupid")):
            for name in (server.admin_username, server.user_username):  # the built-in accounts, alike
                direct_sync(server, "update_user", {"userid": name, "email": f"{name}@example.com", **SAME})
            direct_sync(server, "create_user", {"username": n["user"], "email": "ada@example.com",
                                                "password": "Secr3tPass", **SAME})
            direct_sync(server, group_call, {"group_name": n["group"]})
            direct_sync(server, add_call, {group_arg: n["group"], "userid": n["user"]})
            direct_sync(server, "create_repo", {"repo_name": n["repo"], "repo_type": "hg",
                                                "owner": server.admin_username, "description": "the same",
                                                "clone_uri": hg_remote})
            direct_sync(server, "grant_user_permission", {"repoid": n["repo"], "userid": n["user"],
                                                          "perm": "repository.write"})
            direct_sync(server, grant_group, {"repoid": n["repo"], group_arg: n["group"], "perm": "repository.read"})
            direct_sync(server, "invalidate_cache", {"repoid": n["repo"]})  # 1.7 shows the clone's tip after it
        yield old, new, n
    finally:
        new.stop()
        old.stop()


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def write_config(tmp_path: Path, old_url: str, new_url: str, old, new, *, shadow_timeout: float = 30,
                 extra: str = "", shadowed: bool = True) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    creds = tmp_path / "new-credentials.yaml"
    creds.write_text("keys:\n" + "".join(f"  {sha(a)}: {b}\n" for a, b in ((old.admin_key, new.admin_key),
                                                                             (old.user_key, new.user_key))))
    os.chmod(creds, 0o600)
    path = tmp_path / "shadow.yaml"
    path.write_text("\n".join([
        f"mappings: {REPO_ROOT / 'mappings'}",
        f"audit: {{path: {tmp_path / 'audit.jsonl'}}}",
        f"shadow_log: {tmp_path / 'diff.jsonl'}",
        "backends:",
        f'  old: {{url: "{old_url}", dialect: rhodecode1, timeout: 30}}',
        f'  new: {{url: "{new_url}", dialect: kallithea, timeout: {shadow_timeout}, credentials: {creds.name}, '
        'unmapped: refuse}',
        "routes:",
        "  - {backend: old, shadow: new}" if shadowed else "  - {backend: old}",
        extra,
    ]) + "\n")
    return path


class Gateway:
    def __init__(self, client, key: str, diff_log: Path) -> None:
        self.client, self.key, self.diff_log = client, key, diff_log

    async def call(self, method: str, args: dict | None = None) -> tuple[dict, float]:
        body = json.dumps({"id": 1, "api_key": self.key, "method": method, "args": args or {}}).encode()
        started = time.perf_counter()
        response = await self.client.post("/rhodecode1/_admin/api", data=body, headers={"Content-Type": "text/plain"})
        answer = _loads(await response.read())
        return answer, time.perf_counter() - started

    async def ok(self, method: str, args: dict | None = None) -> Any:
        answer, _ = await self.call(method, args)
        assert answer["error"] is None, (method, args, answer)
        return answer["result"]

    async def settled(self) -> list[dict]:
        """The diff log, once no comparison runs any more."""
        running = self.client.app[GATEWAY].shadow
        for _ in range(600):
            if not running.tasks:
                break
            await asyncio.sleep(0.05)
        assert not running.tasks, "shadow comparisons still running"
        lines = self.diff_log.read_text().splitlines() if self.diff_log.exists() else []
        return [json.loads(line) for line in lines]

    async def metric(self, result: str, method: str | None = None) -> float:
        text = await (await self.client.get("/metrics")).text()
        total = 0.0
        for line in text.splitlines():
            if line.startswith("rcgate_shadow_total{") and f'result="{result}"' in line \
                    and (method is None or f'method="{method}"' in line):
                total += float(line.rsplit(" ", 1)[1])
        return total


async def gateway_for(aiohttp_client, config: Path, key: str) -> Gateway:
    app = create_app(load_config(config))
    return Gateway(await aiohttp_client(app), key, load_config(config).shadow_log)


# The reads of a RhodeCode 1.x caller, with arguments; the test below checks that the list is complete.
READS = {
    "get_user": [{}, {"userid": "$user"}],
    "get_users": [{}],
    "get_users_group": [{"usersgroupid": "$group"}],
    "get_users_groups": [{}],
    "get_repo": [{"repoid": "$repo"}],
    "get_repos": [{}],
    "get_repo_nodes": [{"repoid": "$repo", "revision": "tip", "root_path": ""}],
    "get_locks": [{}],
}


def shadowed_reads() -> set[str]:
    """Every RhodeCode 1.x method that is a compared read both backends serve."""
    rc1, kallithea = MAPPINGS.dialects["rhodecode1"], MAPPINGS.dialects["kallithea"]
    not_compared = MAPPINGS.spec.canonical["compare"]["not_compared"]
    out = set()
    for name, inbound in rc1.inbound.items():
        if inbound.unsupported or name != inbound.name:
            continue
        spec = MAPPINGS.canonical[inbound.canonical]
        o = kallithea.outbound.get(inbound.canonical)
        if spec.kind == "read" and inbound.canonical not in not_compared and o is not None and not o.unsupported:
            out.add(name)
    return out


def fill(args: dict, names: dict) -> dict:
    return {k: names[v[1:]] if isinstance(v, str) and v.startswith("$") else v for k, v in args.items()}


async def test_equal_data_compares_equal_for_every_read(twins, aiohttp_client, tmp_path):
    old, new, names = twins
    assert set(READS) == shadowed_reads()
    gw = await gateway_for(aiohttp_client, write_config(tmp_path, old.url, new.url, old, new), old.admin_key)
    calls = 0
    for method, variants in READS.items():
        for args in variants:
            await gw.ok(method, fill(args, names))
            calls += 1
    lines = await gw.settled()
    assert len(lines) == calls
    different = [(r["method"], r.get("differences"), r.get("reason")) for r in lines if r["outcome"] != "equal"]
    assert different == []
    assert await gw.metric("equal") == calls and await gw.metric("different") == 0


async def test_a_seeded_difference_is_reported_at_its_path_only(twins, aiohttp_client, tmp_path):
    old, new, names = twins
    # noise_check: the primary is asked again, answers the same, so the difference is not noise
    gw = await gateway_for(aiohttp_client, write_config(tmp_path, old.url, new.url, old, new, extra="noise_check: true"),
                           old.admin_key)
    direct_sync(new, "update_repo", {"repoid": names["repo"], "description": "changed on the new instance"})
    direct_sync(new, "remove_user_from_user_group", {"usergroupid": names["group"], "userid": names["user"]})
    try:
        await gw.ok("get_repo", {"repoid": names["repo"]})
        await gw.ok("get_users_group", {"usersgroupid": names["group"]})
        lines = {r["method"]: r for r in await gw.settled()}
    finally:
        direct_sync(new, "update_repo", {"repoid": names["repo"], "description": "the same"})
        direct_sync(new, "add_user_to_user_group", {"usergroupid": names["group"], "userid": names["user"]})
    assert lines["get_repo"]["differences"] == [
        {"path": "$.description", "primary": "the same", "shadow": "changed on the new instance"}]
    [member] = lines["get_user_group"]["differences"]
    assert member["path"] == f"$.users[username={names['user']}]"
    assert member["primary"]["username"] == names["user"] and member["shadow"] == "<missing>"
    assert "noise" not in lines["get_repo"] and "noise" not in lines["get_user_group"]


async def test_a_sample_of_zero_compares_nothing(twins, aiohttp_client, tmp_path):
    old, new, names = twins
    cfg = write_config(tmp_path, old.url, new.url, old, new)
    cfg.write_text(cfg.read_text().replace("shadow: new}", "shadow: new, shadow_sample: 0.0}"))
    gw = await gateway_for(aiohttp_client, cfg, old.admin_key)
    for _ in range(5):
        await gw.ok("get_repo", {"repoid": names["repo"]})
    assert await gw.settled() == [] and await gw.metric("compared") == 0


@pytest.mark.parametrize("fault", ["slow", "refused"])
async def test_a_shadow_down_or_slow_leaves_the_caller_alone(twins, aiohttp_client, tmp_path, fault):
    old, new, names = twins
    shadow = await FaultyBackend(mode=fault if fault == "slow" else "healthy", slow_seconds=5.0).start()
    try:
        if fault == "refused":
            await shadow.stop()
        plain = await gateway_for(aiohttp_client, write_config(tmp_path / "plain", old.url, new.url, old, new,
                                                               shadowed=False), old.admin_key)
        alone, _ = await plain.call("get_repo", {"repoid": names["repo"]})
        cfg = write_config(tmp_path, old.url, shadow.url, old, new, shadow_timeout=1.0)
        gw = await gateway_for(aiohttp_client, cfg, old.admin_key)
        answer, seconds = await gw.call("get_repo", {"repoid": names["repo"]})
        assert answer == alone  # the caller's answer is the primary's, as without a shadow
        assert seconds < 1.0, seconds  # ... and did not wait for the shadow (1 s timeout, 5 s answer)
        [line] = await gw.settled()
        assert line["outcome"] == "failed" and line["reason"] == "backend_unavailable"
        assert await gw.metric("failed", "get_repo") == 1
    finally:
        await shadow.stop()


async def test_over_the_bound_reads_are_skipped_not_queued(twins, aiohttp_client, tmp_path):
    old, new, names = twins
    shadow = await FaultyBackend(mode="slow", slow_seconds=2.0).start()
    try:
        cfg = write_config(tmp_path, old.url, shadow.url, old, new, shadow_timeout=1.0,
                           extra="shadow_max_in_flight: 1")
        gw = await gateway_for(aiohttp_client, cfg, old.admin_key)
        answers = await asyncio.gather(*(gw.call("get_user", {"userid": names["user"]}) for _ in range(4)))
        assert all(a["error"] is None for a, _ in answers)
        await gw.settled()
        assert await gw.metric("skipped") == 3 and await gw.metric("failed") == 1
        assert shadow.received == 1  # the skipped ones never reached it
    finally:
        await shadow.stop()


def rcgate(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gateway", *args], input=stdin, capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=300)


async def test_report_and_replay_end_to_end(twins, aiohttp_client, tmp_path):
    old, new, names = twins
    cfg = write_config(tmp_path, old.url, new.url, old, new)
    gw = await gateway_for(aiohttp_client, cfg, old.admin_key)
    for method, variants in READS.items():
        for args in variants:
            await gw.ok(method, fill(args, names))
    await gw.ok("update_user", {"userid": names["user"], "firstname": SAME["firstname"]})  # a write: never replayed
    direct_sync(new, "update_repo", {"repoid": names["repo"], "description": "differs"})
    try:
        await gw.ok("get_repo", {"repoid": names["repo"]})
        await gw.settled()
        await gw.client.close()  # the audit log is complete
        diff_log, audit_log = tmp_path / "diff.jsonl", tmp_path / "audit.jsonl"

        report = rcgate("shadow", "report", str(diff_log))
        assert report.returncode == 0, report.stderr
        assert "get_repo" in report.stdout and "$.description  differs in 1 of 2 calls" in report.stdout
        gated = rcgate("shadow", "report", str(diff_log), "--max-diff-rate", "0.4")
        assert gated.returncode == 1 and "get_repo differs in 1 of 2 calls" in gated.stderr
        assert rcgate("shadow", "report", str(diff_log), "--max-diff-rate", "0.5").returncode == 0
        summary = json.loads(rcgate("shadow", "report", str(diff_log), "--json").stdout)
        assert summary["get_repo"]["compared"] == 2 and summary["get_repo"]["equal"] == 1
        assert summary["get_users"]["share_equal"] == 1.0

        replayed_log = tmp_path / "replayed.jsonl"
        replay = rcgate("shadow", "replay", str(audit_log), "--config", str(cfg), "--primary", "old", "--shadow",
                        "new", "--out", str(replayed_log), stdin=old.admin_key + "\n")
        assert replay.returncode == 0, replay.stderr
        reads = sum(len(v) for v in READS.values()) + 1
        assert f"replayed {reads} of {reads + 1} calls" in replay.stdout  # the write is not replayed
        lines = [json.loads(line) for line in replayed_log.read_text().splitlines()]
        assert len(lines) == reads and all(r["replayed"] for r in lines)
        # replayed now, after the change: both get_repo calls and the listing see it
        differing = [(r["method"], d["path"], d["primary"], d["shadow"]) for r in lines for d in r.get("differences", ())]
        assert sorted(differing) == [("get_repo", "$.description", "the same", "differs")] * 2 + [
            ("get_repos", f"$[repo_name={names['repo']}].description", "the same", "differs")]
        assert old.admin_key not in replayed_log.read_text() and new.admin_key not in replayed_log.read_text()
    finally:
        direct_sync(new, "update_repo", {"repoid": names["repo"], "description": "the same"})


async def test_no_write_reaches_the_shadow(twins, aiohttp_client, tmp_path):
    # last in this module: the writes stay on the primary (1.7 cannot delete a users group), so the
    # two instances no longer hold the same data afterwards
    old, new, names = twins
    gw = await gateway_for(aiohttp_client, write_config(tmp_path, old.url, new.url, old, new), old.admin_key)
    user, group, repo = unique("shw"), unique("shwg"), unique("shwr")
    await gw.ok("create_user", {"username": user, "email": f"{user}@example.com", "password": "Secr3tPass"})
    await gw.ok("update_user", {"userid": user, "firstname": "Changed"})
    await gw.ok("create_users_group", {"group_name": group})
    await gw.ok("add_user_to_users_group", {"usersgroupid": group, "userid": user})
    await gw.ok("create_repo", {"repo_name": repo, "repo_type": "hg", "owner": old.admin_username})
    await gw.ok("grant_user_permission", {"repoid": repo, "userid": user, "perm": "repository.read"})
    await gw.ok("delete_repo", {"repoid": repo})
    lines = await gw.settled()
    assert lines == []  # nothing compared: the routes' reads only
    assert direct_sync(old, "get_user", {"userid": user})["firstname"] == "Changed"  # done, on the primary
    assert post(new, "get_user", {"userid": user})["error"] is not None  # ... and never on the shadow
    assert post(new, "get_user_group", {"usergroupid": group})["error"] is not None
    assert post(new, "get_repo", {"repoid": repo})["error"] is not None
