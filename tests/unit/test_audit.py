"""Audit log: redaction, fingerprints, queue policies, rotation, report and tail."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

from gateway import audit_report as ar
from gateway.audit import REDACTED, AuditLog, key_fingerprint, redact
from gateway.cli import main

SECRETS = frozenset({"api_key", "password", "auth_token"})


def test_redact_at_any_depth_and_inside_lists():
    value = {"password": "p", "user": {"api_key": "k", "name": "n", "keys": [{"auth_token": "t", "x": 1}]}}
    assert redact(value, SECRETS) == {
        "password": REDACTED, "user": {"api_key": REDACTED, "name": "n", "keys": [{"auth_token": REDACTED, "x": 1}]}}
    assert value["password"] == "p"  # the call's own args are untouched


def test_fingerprint_is_short_stable_and_not_the_key():
    key = "a" * 40
    assert key_fingerprint(key) == key_fingerprint(key) and len(key_fingerprint(key)) == 12
    assert key not in key_fingerprint(key) and key_fingerprint("b" * 40) != key_fingerprint(key)
    assert key_fingerprint(None) is None and key_fingerprint("") is None and key_fingerprint(5) is None


async def test_every_record_is_written_once_and_secrets_never(tmp_path):
    path = tmp_path / "a.jsonl"
    log = AuditLog(str(path), ["license"])
    await log.start()
    for i in range(3000):
        await log.record(request_id=i, args={"password": "Secr3t", "license": "L1C", "repoid": f"r{i}"})
    await log.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 3000 and log.written == 3000
    assert sorted(json.loads(line)["request_id"] for line in lines) == list(range(3000))
    text = path.read_text()
    assert "Secr3t" not in text and "L1C" not in text and text.count(REDACTED) == 6000


async def test_full_queue_policies(tmp_path):
    dropping = AuditLog(str(tmp_path / "d.jsonl"), queue_size=2, on_full="drop")  # writer not started: nothing drains
    for i in range(5):
        await dropping.record(n=i)
    assert dropping.dropped == 3 and dropping.queue.qsize() == 2

    brief = AuditLog(str(tmp_path / "b.jsonl"), queue_size=1, on_full="wait_briefly", wait_ms=20)
    await brief.record(n=1)
    started = time.monotonic()
    await brief.record(n=2)
    assert brief.dropped == 1 and time.monotonic() - started >= 0.015

    waiting = AuditLog(str(tmp_path / "w.jsonl"), queue_size=1, on_full="wait")
    await waiting.record(n=1)
    blocked = asyncio.create_task(waiting.record(n=2))
    await asyncio.sleep(0.05)
    assert not blocked.done()  # the default never drops: it waits for the writer
    await waiting.start()
    await asyncio.wait_for(blocked, 5)
    await waiting.close()
    assert waiting.dropped == 0 and len((tmp_path / "w.jsonl").read_text().splitlines()) == 2


async def test_rotation_keeps_every_record_across_files(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(str(path), max_bytes=20_000, backups=50)
    await log.start()
    for i in range(2000):
        await log.record(request_id=i, method="get_user", dialect="kallithea", key="abc", outcome="ok")
    await log.close()
    files = ar.expand([path])
    assert len(files) > 3 and files[-1] == path
    ids = [r["request_id"] for r in ar.records(files)]
    assert sorted(ids) == list(range(2000)) and ids == sorted(ids)  # oldest file first


def write_log(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"torn": ')


def test_report_groups_by_caller_dialect_method(tmp_path, capsys):
    rows = [
        {"key": "aaa", "dialect": "rhodecode1", "method": "get_users_group", "canonical_method": "get_user_group",
         "outcome": "ok", "time": "2026-01-01T00:00:00.000Z"},
        {"key": "aaa", "dialect": "rhodecode1", "method": "get_users_group", "canonical_method": "get_user_group",
         "outcome": "error", "time": "2026-01-02T00:00:00.000Z"},
        {"key": "bbb", "dialect": "kallithea", "method": "pull", "canonical_method": "pull",
         "outcome": "ok", "time": "2026-01-03T00:00:00.000Z"},
    ]
    write_log(tmp_path / "audit.jsonl", rows[:2])
    write_log(tmp_path / "audit.jsonl.1", rows[2:])  # a rotated file is read too
    assert main(["audit", "report", str(tmp_path / "audit.jsonl"), "--json"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert out == [
        {"caller": "aaa", "dialect": "rhodecode1", "method": "get_users_group", "canonical": "get_user_group",
         "calls": 2, "errors": 1, "last_seen": "2026-01-02T00:00:00.000Z"},
        {"caller": "bbb", "dialect": "kallithea", "method": "pull", "canonical": "pull",
         "calls": 1, "errors": 0, "last_seen": "2026-01-03T00:00:00.000Z"},
    ]
    assert main(["audit", "report", str(tmp_path / "audit.jsonl")]) == 0
    table = capsys.readouterr().out
    assert "get_users_group" in table and "caller" in table.splitlines()[0]


def test_tail_follows_with_filters_and_rotation(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_text(json.dumps({"method": "old", "dialect": "kallithea"}) + "\n")
    seen: list[dict] = []

    def run() -> None:
        for record in ar.follow(path, stop_after=3, poll=0.02):
            if ar.matches(record, {"dialect": "rhodecode1", "method": None, "caller": None, "outcome": None}):
                seen.append(record)

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.3)
    with open(path, "a") as f:
        f.write(json.dumps({"method": "a", "dialect": "rhodecode1"}) + "\n")
        f.write(json.dumps({"method": "b", "dialect": "kallithea"}) + "\n")
        f.write('{"method": "c", "dial')  # half a line: not yet
    time.sleep(0.3)
    with open(path, "a") as f:
        f.write('ect": "rhodecode1"}\n')
    time.sleep(0.3)
    path.rename(tmp_path / "audit.jsonl.1")
    path.write_text(json.dumps({"method": "d", "dialect": "rhodecode1"}) + "\n")
    thread.join()
    assert [r["method"] for r in seen] == ["a", "c", "d"]


async def test_an_unwritable_record_does_not_stop_the_writer(tmp_path):
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no")

    path = tmp_path / "a.jsonl"
    log = AuditLog(str(path))
    await log.start()
    await log.record(request_id="bad", args={"x": Unprintable()})
    await log.record(request_id="next", args={"userid": 10**30, "name": "\ud800"})
    await log.close()
    records = [json.loads(line) for line in path.read_text().split("\n") if line]
    assert [r["request_id"] for r in records] == ["bad", "next"]
    assert "audit_error" in records[0] and records[1]["args"]["userid"] == 10**30
