"""Backend faults, injected with the deliberately faulty backend (tests/faulty_backend.py).

For every fault and every caller dialect: a clear `backend_unavailable` error in the
caller's dialect, within the timeout, audited; rcgate serves again as soon as the
backend does; a write is sent once and never retried.
"""
from __future__ import annotations

import asyncio
import random
import time

import pytest

from tests.faulty_backend import FAULTS

from . import ledger
from .conftest import DIALECTS, MAPPINGS

TIMEOUT = 1.0
REASONS = {  # what the caller is told, per fault: clear, and without the backend's address
    "refused": "connection refused",
    "slow": f"no answer within {TIMEOUT:g} s",
    "html500": "answer is not JSON (HTTP 500, ",
    "garbage": "answer is not JSON (HTTP 200, ",
    "truncated": "answer is not JSON (HTTP 200, ",
    "close_mid": "the answer was cut off before it was complete",
    "reset": "the connection was closed before the answer was complete",
    "wrong_id": "the answer carries id ",
}
WRITES = {  # one write per dialect, with the arguments it needs
    "rhodecode1": ("create_user", {"username": "w1", "email": "w1@example.com", "password": ledger.PASSWORD}),
    "kallithea": ("create_user", {"username": "w2", "email": "w2@example.com", "password": ledger.PASSWORD}),
    "rhodecode": ("create_user", {"username": "w3", "email": "w3@example.com", "password": ledger.PASSWORD}),
}


async def inject(faulty, fault: str) -> None:
    ledger.count("faults injected")
    ledger.count(f"faults injected: {fault}")
    if fault == "refused":
        await faulty.stop()
    else:
        faulty.mode = fault


async def heal(faulty, fault: str) -> None:
    if fault == "refused":
        await faulty.start()  # the same port: the backend comes back
    faulty.mode = "healthy"


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("fault", FAULTS)
async def test_fault_gives_a_clear_error_in_the_callers_dialect(make_pair, faulty, fault, dialect):
    pair = await make_pair(backend_timeout=TIMEOUT)
    faulty.slow_seconds = TIMEOUT * 4
    assert (await pair.call("get_user", dialect=dialect, id="before"))["error"] is None  # a pooled connection

    await inject(faulty, fault)
    started = time.perf_counter()
    answer = await pair.call("get_user", dialect=dialect, id="during")
    elapsed = time.perf_counter() - started

    assert answer["_code"] == "backend_unavailable", answer
    assert answer["id"] == "during"
    prefix = MAPPINGS.dialects[dialect].errors.render("backend_unavailable", {"reason": REASONS[fault]})
    assert answer["error"].startswith(prefix), answer["error"]
    assert f":{faulty.port}" not in answer["error"] and "127.0.0.1" not in answer["error"]
    assert elapsed < TIMEOUT + 0.5, elapsed

    await heal(faulty, fault)
    after = await pair.call("get_user", dialect=dialect, id="after")
    assert after["error"] is None and after["id"] == "after"

    records = await pair.audit_records(3)
    assert [r["outcome"] for r in records] == ["ok", "error", "ok"]
    assert records[1]["error_code"] == "backend_unavailable"
    assert records[1]["error"] == answer["error"]
    assert records[1]["method"] == "get_user" and records[1]["dialect"] == dialect


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_write_is_never_retried(make_pair, faulty, fault, dialect):
    pair = await make_pair(backend_timeout=TIMEOUT)
    faulty.slow_seconds = TIMEOUT * 1.5
    method, args = WRITES[dialect]
    await pair.call("get_user", dialect=dialect)  # leaves a kept-alive connection in the pool
    await inject(faulty, fault)
    answer = await pair.call(method, args, dialect=dialect)
    assert answer["_code"] == "backend_unavailable", answer
    if fault == "slow":
        await asyncio.sleep(TIMEOUT * 1.5 + 0.3)  # a retry would have arrived by now
    await heal(faulty, fault)
    backend_method = MAPPINGS.dialects["kallithea"].outbound[MAPPINGS.dialects[dialect].inbound[method].canonical].method
    assert faulty.calls.get(backend_method, 0) == (0 if fault == "refused" else 1), faulty.calls
    answer = await pair.call(method, args, dialect=dialect)
    assert answer["error"] is None
    assert faulty.calls[backend_method] == (1 if fault == "refused" else 2)


async def test_concurrent_calls_during_a_slow_backend_all_end_within_the_timeout(make_pair, faulty):
    pair = await make_pair(backend_timeout=TIMEOUT)
    faulty.slow_seconds = TIMEOUT * 5
    await inject(faulty, "slow")
    started = time.perf_counter()
    answers = await asyncio.gather(*(pair.call("get_user", dialect=DIALECTS[i % 3], id=i) for i in range(60)))
    elapsed = time.perf_counter() - started
    assert all(a["_code"] == "backend_unavailable" and a["id"] == i for i, a in enumerate(answers))
    assert elapsed < TIMEOUT + 1.5, elapsed
    await heal(faulty, "slow")
    answers = await asyncio.gather(*(pair.call("get_user", id=i) for i in range(60)))
    assert all(a["error"] is None for a in answers)
    assert len(await pair.audit_records(120)) == 120


async def test_random_fault_storm_then_recovery(make_pair, faulty):
    """200 calls while the backend switches between health and every fault at random."""
    pair = await make_pair(backend_timeout=0.2)
    faulty.slow_seconds = 0.6
    rng = random.Random()
    expected = []
    for i in range(200):
        mode = rng.choice(["healthy", "healthy", *[f for f in FAULTS if f != "refused"]])
        if mode != "healthy":
            await inject(faulty, mode)
        else:
            faulty.mode = "healthy"
        answer = await pair.call("get_user", dialect=rng.choice(DIALECTS), id=i + 1)  # 0: a modern success is ""
        assert answer["id"] == i + 1
        assert (answer["error"] is None) == (mode == "healthy"), (mode, answer)
        expected.append("ok" if mode == "healthy" else "error")
    faulty.mode = "healthy"
    assert (await pair.call("get_user"))["error"] is None
    records = await pair.audit_records(201)
    assert [r["outcome"] for r in records] == expected + ["ok"]


async def test_the_html_page_of_a_failing_backend_never_reaches_the_caller(make_pair, faulty):
    pair = await make_pair(backend_timeout=TIMEOUT)
    await inject(faulty, "html500")
    for dialect in DIALECTS:
        answer, raw = await pair.post(f"/{dialect}/_admin/api", {"id": 1, "api_key": ledger.CALLER_KEY,
                                                                   "auth_token": ledger.CALLER_KEY,
                                                                   "method": "get_user", "args": {}})
        assert b"Traceback" not in raw and b"<html" not in raw.lower() and b"secret_internal_path" not in raw
        assert answer["_code"] == "backend_unavailable"


async def test_readiness_follows_the_backend(make_pair, faulty):
    pair = await make_pair(backend_timeout=TIMEOUT)
    assert (await pair.client.get("/readyz")).status == 200
    await inject(faulty, "refused")
    response = await pair.client.get("/readyz")
    assert response.status == 503 and str(faulty.port) not in await response.text()
    await heal(faulty, "refused")
    assert (await pair.client.get("/readyz")).status == 200


async def test_a_read_the_backend_is_known_to_need_goes_out_with_the_call(make_pair, faulty):
    """A user object from this backend lacks its IP list (the faulty backend's answers have no such field):
    the first get_user learns it and reads get_ip after the answer; the next sends both at once."""
    pair = await make_pair(backend_timeout=5.0)
    body = {"id": 1, "api_key": ledger.CALLER_KEY, "method": "get_user", "args": {"userid": "u"}}
    first, _ = await pair.post("/rhodecode1/_admin/api", body)
    assert first["error"] is None and first["result"]["ip_addresses"] is None  # the read answered no IP list
    assert [s.body["method"] for s in faulty.requests[-2:]] == ["get_user", "get_ip"]
    faulty.mode, faulty.slow_seconds = "slow", 1.0
    before = faulty.received
    call = asyncio.ensure_future(pair.post("/rhodecode1/_admin/api", body))
    for _ in range(50):  # both arrive while the backend still sits on the first
        if faulty.received - before == 2:
            break
        await asyncio.sleep(0.02)
    assert faulty.received - before == 2 and {s.body["method"] for s in faulty.requests[-2:]} == {"get_user", "get_ip"}
    second, _ = await call
    assert second["error"] is None and "ip_addresses" in second["result"]
