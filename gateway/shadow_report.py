"""Reading and making diff logs: `rcgate shadow report` and `rcgate shadow replay`.

`report` answers "does the new instance answer like the old one?": per canonical method, the calls
compared, the share that was equal, and each differing path (list items by their key, `[*]`) with
how often it differed and one example. `replay` makes a diff log without waiting for traffic: the
reads of an audit log, asked again of two backends of a config and compared as the gateway would.
"""
from __future__ import annotations

import asyncio
import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from .app import send_to_backend
from .audit import REDACTED
from .audit_report import records
from .diff import Comparer
from .metrics import Metrics
from .shadow import DiffLog, Unavailable, ask, finish, judge, utc_now

_KEYED = re.compile(r"\[[^\[\]]*=[^\[\]]*\]")  # [username=john], [type=user,name=john]


def pattern(path: str) -> str:
    """A differing path with its list items' keys left out: the same field of any item."""
    return _KEYED.sub("[*]", path)


@dataclass
class MethodSummary:
    method: str
    compared: int = 0
    equal: int = 0
    failed: int = 0
    paths: dict[str, dict[str, Any]] = field(default_factory=dict)  # pattern -> {count, example}
    noise: dict[str, int] = field(default_factory=dict)

    @property
    def different(self) -> int:
        return self.compared - self.equal

    @property
    def diff_rate(self) -> float:
        return self.different / self.compared if self.compared else 0.0


def summarize(lines: Iterable[dict[str, Any]]) -> dict[str, MethodSummary]:
    out: dict[str, MethodSummary] = {}
    for r in lines:
        method = r.get("method")
        if not isinstance(method, str):
            continue
        s = out.setdefault(method, MethodSummary(method))
        outcome = r.get("outcome")
        if outcome == "failed":
            s.failed += 1
            continue
        if outcome not in ("equal", "different"):
            continue
        s.compared += 1
        s.equal += outcome == "equal"
        seen_in_call: set[str] = set()
        for d in r.get("differences") or ():
            p = pattern(str(d.get("path")))
            entry = s.paths.setdefault(p, {"count": 0, "example": {**d, "request_id": r.get("request_id")}})
            if p not in seen_in_call:  # counted once per call: "differs in N calls"
                entry["count"] += 1
                seen_in_call.add(p)
        for p in {pattern(n) for n in r.get("noise") or ()}:
            s.noise[p] = s.noise.get(p, 0) + 1
    return dict(sorted(out.items()))


def as_json(summary: dict[str, MethodSummary]) -> dict[str, Any]:
    return {m: {"compared": s.compared, "equal": s.equal, "different": s.different, "failed": s.failed,
                "share_equal": round(s.equal / s.compared, 4) if s.compared else None,
                "paths": s.paths, "noise": s.noise} for m, s in summary.items()}


def format_text(summary: dict[str, MethodSummary]) -> str:
    if not summary:
        return "no compared calls in this log\n"
    rows = [["method", "compared", "equal", "share equal", "different", "failed"]]
    for s in summary.values():
        share = f"{100 * s.equal / s.compared:.1f}%" if s.compared else "-"
        rows.append([s.method, str(s.compared), str(s.equal), share, str(s.different), str(s.failed)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    for s in summary.values():
        if s.paths or s.noise:
            lines.append("")
            lines.append(f"{s.method}:")
        for p, entry in sorted(s.paths.items(), key=lambda kv: -kv[1]["count"]):
            ex = entry["example"]
            lines.append(f"  {p}  differs in {entry['count']} of {s.compared} calls; e.g. {ex.get('path')}: "
                         f"primary {json.dumps(ex.get('primary'))}, shadow {json.dumps(ex.get('shadow'))}")
        for p, count in sorted(s.noise.items()):
            lines.append(f"  {p}  noise in {count} calls (the primary's own two answers differ there)")
    return "\n".join(lines) + "\n"


def over_rate(summary: dict[str, MethodSummary], rate: float) -> list[MethodSummary]:
    return [s for s in summary.values() if s.diff_rate > rate]


# --------------------------------------------------------------------------- replay


def replayable(record: dict[str, Any], canonical: dict[str, Any], not_compared: dict[str, str]) -> bool:
    method = record.get("canonical_method")
    spec = canonical.get(method) if isinstance(method, str) else None
    return (spec is not None and spec.kind == "read" and method not in not_compared
            and isinstance(record.get("args"), dict) and REDACTED not in json.dumps(record["args"]))


async def replay(audit_paths: list[Path], snapshot: Any, primary: str, shadow: str, key: str, out: DiffLog,
                 noise_check: bool = False, limit: int | None = None) -> dict[str, int]:
    """Every replayable read of the audit logs, asked of both backends, compared into `out`."""
    comparer = Comparer.of(snapshot.mappings.spec.canonical)
    targets = snapshot.targets
    counts = {"read": 0, "replayed": 0, "equal": 0, "different": 0, "failed": 0, "skipped": 0}
    send = functools.partial(send_to_backend, Metrics(lambda: 0, lambda: 0))  # counted in a registry of its own

    for client in (targets[primary].client, targets[shadow].client):
        await client.start()
    try:
        for record in _records(audit_paths):
            counts["read"] += 1
            if not replayable(record, snapshot.mappings.canonical, comparer.not_compared):
                counts["skipped"] += 1
                continue
            if limit is not None and counts["replayed"] >= limit:
                break
            counts["replayed"] += 1
            method, args = record["canonical_method"], record["args"]
            line = {"time": utc_now(), "request_id": record.get("request_id"), "caller": record.get("key"),
                    "method": method, "route": None, "primary": primary, "shadow": shadow, "replayed": True}
            try:
                a, b = await asyncio.gather(ask(targets[primary], method, args, key, send),
                                            ask(targets[shadow], method, args, key, send))
            except Unavailable as exc:
                counts["failed"] += 1
                out.write({**line, "outcome": "failed", "reason": str(exc)})
                continue
            if a is None or b is None:
                counts["skipped"] += 1
                continue
            again = (lambda: ask(targets[primary], method, args, key, send)) if noise_check else None
            real, noise = await judge(comparer, snapshot.mappings.canonical[method].result, a, b, again)
            out.write(finish(line, real, noise))
            counts[line["outcome"]] += 1
    finally:
        for client in (targets[primary].client, targets[shadow].client):
            await client.close()
    return counts


def _records(paths: list[Path]) -> Iterator[dict[str, Any]]:
    for r in records(paths):
        if r.get("canonical_method"):
            yield r
