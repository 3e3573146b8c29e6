"""Load: 20 000 calls at concurrency 64 through rcgate to a fast backend; no errors, every call audited, memory flat.

In process: pytest-aiohttp's client -> rcgate -> the faulty backend in mode `healthy`
(answers at once, counts calls). Marked `load`; `make test` runs it like any other.
"""
from __future__ import annotations

import asyncio
import gc
import json
import os
import time

import aiohttp
import pytest

from gateway.app import GATEWAY
from tests.faulty_backend import FaultyBackend

from . import ledger
from .conftest import DIALECTS, read_audit

CALLS = 20_000
CONCURRENCY = 64
SAMPLE_AT = 2_000
MAX_GROWTH_MB = 30
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


@pytest.mark.load
async def test_20000_calls_at_concurrency_64(make_pair):
    backend = await FaultyBackend(record=False).start()
    try:
        mix = [("rhodecode1", "get_user", {"userid": "u"}), ("kallithea", "get_repo", {"repoid": "r"}),
               ("rhodecode", "get_user", {"userid": "u"}), ("kallithea", "get_user", {}),
               ("rhodecode1", "get_repo", {"repoid": "r"}), ("rhodecode", "get_repos", {})]
        # How many backend calls one call of each kind makes (a user object without its IP list
        # costs one more read): measured once on a pair of its own, so the load below can show
        # that nothing was retried or duplicated.
        probe = await make_pair(backend)
        per_kind = []
        for dialect, method, args in mix:
            before = backend.received
            field = "auth_token" if dialect == "rhodecode" else "api_key"
            await probe.client.post(f"/{dialect}/_admin/api", json={"id": 1, field: ledger.CALLER_KEY,
                                                                    "method": method, "args": args})
            per_kind.append(backend.received - before)
        assert all(n in (1, 2) for n in per_kind), per_kind
        expected_backend_calls = sum(per_kind[i % len(mix)] for i in range(CALLS))
        backend.reset_counts()

        pair = await make_pair(backend, backend_max_connections=CONCURRENCY)
        done = 0
        errors: list[dict] = []
        samples: dict[str, float] = {}
        ids = iter(range(CALLS))

        # A plain session: the test client keeps every response it ever made (for its own cleanup),
        # which would show as growth here.
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY))
        url = str(pair.client.make_url("/"))
        audit = pair.app[GATEWAY].audit

        async def worker() -> None:
            nonlocal done
            for i in ids:
                dialect, method, args = mix[i % len(mix)]
                field = "auth_token" if dialect == "rhodecode" else "api_key"
                body = json.dumps({"id": i, field: ledger.CALLER_KEY, "method": method, "args": args}).encode()
                async with session.post(f"{url}{dialect}/_admin/api", data=body) as response:
                    raw = await response.read()
                answer = json.loads(raw)
                if response.status != 200 or answer["error"] is not None or answer["id"] != i:
                    errors.append({"status": response.status, "answer": answer})
                done += 1
                if done == SAMPLE_AT:
                    samples["after 2 000"] = rss_mb()
                    samples["audit backlog at 2 000"] = audit.queue.qsize()

        samples["before"] = rss_mb()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
        samples["audit backlog at 20 000"] = audit.queue.qsize()
        samples["after 20 000"] = rss_mb()
        await session.close()

        await pair.client.close()  # app cleanup: the audit queue is drained and the file closed
        records = read_audit(pair.audit_path)
    finally:
        await backend.stop()

    growth = samples["after 20 000"] - samples["after 2 000"]
    print(f"\nload: {CALLS} calls, concurrency {CONCURRENCY}, {elapsed:.1f} s ({CALLS / elapsed:.0f} calls/s); "
          f"errors {len(errors)}; backend calls {backend.received}; audit records {len(records)}; "
          f"RSS MB before {samples['before']:.1f}, after 2 000 {samples['after 2 000']:.1f}, "
          f"after 20 000 {samples['after 20 000']:.1f} (growth {growth:+.1f}); audit backlog "
          f"{samples['audit backlog at 2 000']:.0f} / {samples['audit backlog at 20 000']:.0f}")
    ledger.count("calls under load", CALLS)
    ledger.count("audit records checked (load)", len(records))
    ledger.NOTES["load"] = (f"{CALLS} calls at concurrency {CONCURRENCY} in {elapsed:.1f} s, {len(errors)} errors, "
                            f"{len(records)} audit records, RSS {samples['after 2 000']:.1f} -> "
                            f"{samples['after 20 000']:.1f} MB")

    assert errors == [], errors[:3]
    assert backend.received == expected_backend_calls, (backend.received, per_kind)
    assert len(records) == CALLS
    assert all(r["outcome"] == "ok" for r in records)
    assert len({r["request_id"] for r in records}) == CALLS
    assert {r["dialect"] for r in records} == set(DIALECTS)
    assert growth < MAX_GROWTH_MB, samples
