"""Shadow reads: a sample of a route's reads also goes to another instance, and the two answers are
compared in the canonical form (`gateway/diff.py`), off the caller's path.

The caller's answer never waits for the shadow and never changes because of it: a shadow call starts
after the caller's answer is ready, runs as a task of its own, and at most `shadow_max_in_flight` of
them run at once (a sampled read beyond that is skipped and counted, never queued). Only methods
canonical.yaml marks `read` are shadowed. Each compared call leaves one line in the diff log.
"""
from __future__ import annotations

import asyncio
import copy
import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

import orjson

from . import composed
from .audit import DEFAULT_SECRET_FIELDS, redact
from .diff import Comparer, Outcome
from .errors import RpcError
from .mapping.engine import Dialect, Mappings

log = logging.getLogger("rcgate")

MAX_VALUE_CHARS = 300  # a differing value longer than this (as JSON) is cut in the diff log
RESULTS = ("compared", "equal", "different", "noise", "skipped", "failed")

# send(target, backend method, backend args, key) -> the backend's answer (.result, .error); raises RpcError
Send = Callable[[Any, str, dict[str, Any], str], Awaitable[Any]]


class Unavailable(Exception):
    """The backend could not be asked (down, too slow, a key its credential map refuses)."""


@dataclass
class ShadowCall:
    """One sampled read, as the caller's own call left it: what the primary answered, and how to ask again."""

    request_id: str
    caller: str | None  # the key's fingerprint
    method: str  # canonical
    args: dict[str, Any]  # canonical
    key: str
    route: int
    primary: Any  # the primary's Target
    shadow: Any  # the shadow's Target
    seen: dict[str, Any] = field(default_factory=dict)  # the primary's raw answer, filled by the caller's call


def outcome_of_answer(dialect: Dialect, method: str, args: dict[str, Any], result: Any, error: Any) -> Outcome:
    """A backend's raw answer as an Outcome: its result read up to canonical, or its error by kind."""
    if error is not None:
        text = error if isinstance(error, str) else orjson.dumps(error).decode()
        parsed = dialect.errors.parse(text) if isinstance(error, str) else None
        return Outcome(result=text, error=parsed[0] if parsed else "backend_error")
    outbound = dialect.outbound[method]
    return Outcome(outbound.answer_up(result, args))


async def ask(target: Any, method: str, args: dict[str, Any], key: str, send: Send) -> Outcome | None:
    """One canonical read on one backend, the plain way (no caller's rules, no follow-up reads), as an
    Outcome; None when this backend cannot serve it. Raises Unavailable."""
    outbound = target.dialect.outbound.get(method)
    if outbound is None or outbound.unsupported:
        return None
    if outbound.composed is None:
        try:
            backend_args = outbound.args_down(args)
        except RpcError:
            return None  # an argument this backend does not take: nothing to compare
    try:
        if outbound.composed is not None:  # the backend lacks the method: its steps answer it
            async def step(s, step_args: dict[str, Any]) -> Any:
                o = target.dialect.outbound[s.call]
                answer = await send(target, o.method, o.args_down(step_args), key)
                if answer.error is not None:
                    raise RpcError("backend_error", answer.error)
                return o.answer_up(answer.result, step_args)

            return Outcome(await composed.answer(outbound.composed, args, step))
        answer = await send(target, outbound.method, backend_args, key)
    except RpcError as exc:
        if exc.code in ("backend_unavailable", "invalid_key"):  # invalid_key here: the credential map refused it
            raise Unavailable(exc.code) from None
        return Outcome(result=exc.text, error=exc.code)
    return outcome_of_answer(target.dialect, method, args, answer.result, answer.error)


class DiffLog:
    """The diff log: one JSON line per compared call, appended (secrets redacted as in the audit log)."""

    def __init__(self, path: Path, extra_secrets: frozenset[str] = frozenset()) -> None:
        self.path = path
        self.secrets = DEFAULT_SECRET_FIELDS | extra_secrets
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "ab")

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(orjson.dumps(redact(record, self.secrets), default=str) + b"\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _cut(value: Any) -> Any:
    text = orjson.dumps(value, default=str).decode()
    return value if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + f"... ({len(text)} chars)"


class Shadow:
    """The shadow reads of one running configuration."""

    def __init__(self, send: Send, count: Callable[[str, str, str, str], None]) -> None:
        self.send, self.count = send, count
        self.log: DiffLog | None = None
        self.tasks: set[asyncio.Task] = set()

    def configure(self, mappings: Mappings, log_path: Path | None, max_in_flight: int, noise_check: bool,
                  extra_secrets: frozenset[str] = frozenset()) -> None:
        """At start and on every reload: the compare rules of the mapping files, the config's settings."""
        self.canonical = mappings.canonical
        self.comparer = Comparer.of(mappings.spec.canonical)
        self.max_in_flight, self.noise_check = max_in_flight, noise_check
        if self.log is not None and self.log.path != log_path:
            self.log.close()
            self.log = None
        if self.log is None and log_path is not None:
            self.log = DiffLog(log_path, extra_secrets)

    def wanted(self, shadow: str | None, sample: float, method: str | None) -> bool:
        """Whether this call is shadowed: a route with a shadow, a read, and in the sample."""
        if shadow is None or method is None or self.log is None:
            return False
        spec = self.canonical.get(method)
        if spec is None or spec.kind != "read" or method in self.comparer.not_compared:
            return False
        return sample >= 1.0 or random.random() < sample

    def submit(self, call: ShadowCall) -> None:
        """Start comparing, unless `shadow_max_in_flight` comparisons already run: then skip it (counted)."""
        labels = (call.method, call.primary.name, call.shadow.name)
        if "answer" not in call.seen and "canonical" not in call.seen:
            self.count(*labels, "skipped")  # the primary was never asked (refused first, or a listing across backends)
            return
        if len(self.tasks) >= self.max_in_flight:
            self.count(*labels, "skipped")
            return
        task = asyncio.get_running_loop().create_task(self._run(call))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    @property
    def in_flight(self) -> int:
        return len(self.tasks)

    async def _run(self, call: ShadowCall) -> None:
        labels = (call.method, call.primary.name, call.shadow.name)
        record: dict[str, Any] = {"time": utc_now(), "request_id": call.request_id, "caller": call.caller,
                                  "method": call.method, "route": call.route, "primary": call.primary.name,
                                  "shadow": call.shadow.name}
        try:
            primary = self._primary_outcome(call)
            started = time.perf_counter()
            shadow = await ask(call.shadow, call.method, call.args, call.key, self.send)
            record["shadow_ms"] = round((time.perf_counter() - started) * 1000, 3)
            if shadow is None:
                self.count(*labels, "skipped")
                return
            again = (lambda: ask(call.primary, call.method, call.args, call.key, self.send)) if self.noise_check else None
            real, noise = await judge(self.comparer, self.canonical[call.method].result, primary, shadow, again)
        except Unavailable as exc:
            self.count(*labels, "failed")
            self._write({**record, "outcome": "failed", "reason": str(exc)})
            return
        except Exception as exc:  # a comparison must never take the gateway down
            log.error("shadow comparison failed: %s", type(exc).__name__)
            self.count(*labels, "failed")
            self._write({**record, "outcome": "failed", "reason": type(exc).__name__})
            return
        self.count(*labels, "compared")
        self.count(*labels, "different" if real else "equal")
        if noise:
            self.count(*labels, "noise")
        self._write(finish(record, real, noise))

    def _primary_outcome(self, call: ShadowCall) -> Outcome:
        if "canonical" in call.seen:  # a composed answer: canonical already
            return Outcome(call.seen["canonical"])
        result, error = call.seen["answer"]
        return outcome_of_answer(call.primary.dialect, call.method, call.args, result, error)

    def _write(self, record: dict[str, Any]) -> None:
        if self.log is not None:
            self.log.write(record)

    async def close(self, wait: float = 5.0) -> None:
        """Let running comparisons finish (briefly), then close the log."""
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=wait)
            for task in list(self.tasks):
                task.cancel()
        if self.log is not None:
            self.log.close()


async def judge(comparer: Comparer, shape: Any, primary: Outcome, shadow: Outcome,
                ask_again: Callable[[], Awaitable[Outcome | None]] | None) -> tuple[list, set[str]]:
    """(differences, noise paths): with `ask_again`, a path where the primary's own second answer differs
    from its first is noise (Diffy's idea), not a difference."""
    differences = comparer.compare(primary, shadow, shape)
    noise: set[str] = set()
    if differences and ask_again is not None:
        again = await ask_again()
        if again is not None:
            noise = {p for p, _, _ in comparer.compare(primary, again, shape)} & {p for p, _, _ in differences}
    return [d for d in differences if d[0] not in noise], noise


def finish(record: dict[str, Any], real: list, noise: set[str]) -> dict[str, Any]:
    """A diff log line: the outcome, each difference with both values (cut), the noise paths."""
    record["outcome"] = "different" if real else "equal"
    if real:
        record["differences"] = [{"path": p, "primary": _cut(a), "shadow": _cut(b)} for p, a, b in real]
    if noise:
        record["noise"] = sorted(noise)
    return record


def utc_now() -> str:
    """UTC time with milliseconds, as the audit log writes it (one clock read)."""
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + f".{ns // 1_000_000 % 1000:03d}Z"


def capture(seen: dict[str, Any], result: Any, error: Any) -> None:
    """Keep the primary's raw answer for a sampled call (a copy: the caller's answer is built from it)."""
    seen["answer"] = (copy.deepcopy(result), error)
