"""Reading the audit log: `rcgate audit report` and `rcgate audit tail`.

`report` answers "who still calls what": per caller (key fingerprint) x dialect x
method, the number of calls, of errors, and when it was last seen. Given a log
path it also reads the rotated files beside it (`audit.jsonl.1`, `.2`, ...) and
per-worker files (`audit.w1.jsonl`, ...).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

FILTERS = ("dialect", "method", "caller", "outcome")


def expand(paths: Iterable[Path]) -> list[Path]:
    """Each path plus its rotated and per-worker siblings, oldest first, each once."""
    found: list[Path] = []
    for path in paths:
        siblings = sorted(path.parent.glob(f"{path.stem}.w*{path.suffix}")) if path.suffix else []
        for base in [path, *siblings]:
            rotated = sorted(base.parent.glob(f"{base.name}.[0-9]*"), key=lambda p: -int(p.suffix[1:] or 0))
            for p in [*rotated, base]:
                if p.is_file() and p not in found:
                    found.append(p)
    return found


def records(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                record = _parse(line)
                if record is not None:
                    yield record


def _parse(line: str) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None  # a torn last line of a crashed writer is not worth a failure
    return record if isinstance(record, dict) else None


@dataclass
class Usage:
    caller: str
    dialect: str
    method: str
    canonical: str
    calls: int = 0
    errors: int = 0
    last_seen: str = ""


def report(rows: Iterable[dict[str, Any]]) -> list[Usage]:
    usage: dict[tuple[str, str, str], Usage] = {}
    for r in rows:
        key = (r.get("key") or "-", r.get("dialect") or "-", r.get("method") or "-")
        u = usage.get(key)
        if u is None:
            u = usage[key] = Usage(*key, canonical=r.get("canonical_method") or "-")
        u.calls += 1
        u.errors += r.get("outcome") != "ok"
        u.last_seen = max(u.last_seen, r.get("time") or "")
    return sorted(usage.values(), key=lambda u: (u.caller, u.dialect, -u.calls, u.method))


def matches(record: dict[str, Any], filters: dict[str, str | None]) -> bool:
    field = {"caller": "key"}
    return all(v is None or _value(record, field.get(k, k)) == v for k, v in filters.items())


def _value(record: dict[str, Any], name: str) -> Any:
    value = record.get(name)
    if name == "dialect" and isinstance(value, str):  # `rhodecode1@1.3` is a rhodecode1 call
        return value.partition("@")[0]
    return value


def format_table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [headers, *[[("" if c is None else str(c)) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report_table(usage: list[Usage]) -> str:
    return format_table(
        ["caller", "dialect", "method", "canonical", "calls", "errors", "last seen"],
        [[u.caller, u.dialect, u.method, u.canonical, u.calls, u.errors, u.last_seen] for u in usage],
    )


TAIL_COLUMNS = ["time", "key", "dialect", "method", "outcome", "duration_ms", "error"]


def tail_line(record: dict[str, Any]) -> str:
    return "  ".join(str(record.get(c, "-") if record.get(c) is not None else "-") for c in TAIL_COLUMNS)


def follow(path: Path, stop_after: float | None = None, poll: float = 0.25) -> Iterator[dict[str, Any]]:
    """Records appended to `path` from now on; survives rotation (then reads the new file from its start)."""
    deadline = None if stop_after is None else time.monotonic() + stop_after
    stream: IO[str] | None = None
    inode, start_at_end = None, True
    try:
        while deadline is None or time.monotonic() < deadline:
            if stream is None and path.exists():
                stream = open(path, encoding="utf-8", errors="replace")
                inode = os.fstat(stream.fileno()).st_ino
                if start_at_end:
                    stream.seek(0, os.SEEK_END)
                start_at_end = False
            if stream is not None:
                position = stream.tell()
                line = stream.readline()
                if line.endswith("\n"):
                    record = _parse(line)
                    if record is not None:
                        yield record
                    continue
                stream.seek(position)  # nothing new, or a half-written line: read it again later, whole
                try:
                    rotated = os.stat(path).st_ino != inode
                except FileNotFoundError:
                    rotated = True
                if rotated:
                    stream.close()
                    stream = None
                    continue
            time.sleep(poll)
    finally:
        if stream is not None:
            stream.close()
