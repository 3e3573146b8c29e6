"""The audit trail: one JSON line per call, secrets redacted, written off the request path.

`record()` redacts and enqueues; a writer task hands batches to a thread that
renders them (structlog, orjson) and writes each batch with one write and one flush to a
stdlib rotating file handler's file, rotating at the same line as the handler
would, so neither the request nor the event loop waits on the disk. `close()`
writes everything still queued before the process exits.

When the queue is full (`audit.queue_size`), `audit.on_full` decides:
`wait` (default) — the answer waits for room, nothing is ever dropped;
`wait_briefly` — wait up to `audit.wait_ms`, then drop and count;
`drop` — drop at once and count. Drops are counted in `dropped` (and /metrics).
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import logging.handlers
import os
import sys
import time
from typing import Any

import orjson
import structlog

DEFAULT_SECRET_FIELDS = frozenset({"api_key", "api_keys", "auth_token", "auth_tokens", "password", "secret", "token"})
REDACTED = "<redacted>"
_BATCH = 512
# How long the writer lets records gather before it hands a batch to its thread. Each
# hand-off costs the event loop a thread wake-up and a GIL hand-over; without this pause a
# busy gateway makes one per record or two (docs/performance.md: context switches per call
# 0.20 -> 0.09). Only with a queue large enough not to fill meanwhile.
_LINGER_S = 0.005


def key_fingerprint(key: Any) -> str | None:
    """A short stable hash that identifies a caller without revealing the key."""
    if not isinstance(key, str) or not key:
        return None
    return _fingerprint(key)


@functools.lru_cache(maxsize=4096)  # a gateway sees few distinct keys; hashing each call cost ~5 us
def _fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def redact(value: Any, secret_fields: frozenset[str]) -> Any:
    """A copy of `value` with every secret field replaced, at any depth."""
    if isinstance(value, dict):
        return {k: REDACTED if k in secret_fields else redact(v, secret_fields) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, secret_fields) for v in value]
    return value


def _dumps(event: dict[str, Any], **_: Any) -> str:
    try:
        return orjson.dumps(event, default=str).decode()
    except TypeError:  # integers past 64 bits (orjson refuses them): the standard library writes them
        return json.dumps(event, default=str)


# structlog renders each record; the writer thread calls it, never the request.
_render = structlog.processors.JSONRenderer(serializer=_dumps)


def _json_line(event: dict[str, Any]) -> str:
    try:
        return _render(None, "info", {**event, "event": "call"})
    except Exception as exc:  # one unwritable record must not stop the writer: say what was lost, safely
        return _dumps({"event": "call", "request_id": str(event.get("request_id")), "time": event.get("time"),
                       "audit_error": f"record not serialisable: {type(exc).__name__}"})


class AuditLog:
    def __init__(
        self,
        path: str,
        extra_secret_fields: list[str] | None = None,
        *,
        queue_size: int = 100_000,
        on_full: str = "wait",
        wait_ms: float = 50,
        max_bytes: int = 100 * 1024 * 1024,
        backups: int = 10,
    ) -> None:
        self.path = path
        self.secret_fields = DEFAULT_SECRET_FIELDS | frozenset(extra_secret_fields or ())
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=queue_size)
        self.on_full, self.wait_s = on_full, wait_ms / 1000
        self.max_bytes, self.backups = max_bytes, backups
        self.written = 0
        self.dropped = 0
        self._writer: asyncio.Task[None] | None = None
        self._linger = queue_size >= 4 * _BATCH
        self._second, self._second_text = -1, ""  # the last second _now() formatted

    async def start(self) -> None:
        if self.path == "-":
            handler: logging.Handler = logging.StreamHandler(sys.stdout)
        else:
            handler = logging.handlers.RotatingFileHandler(
                self.path, maxBytes=self.max_bytes, backupCount=self.backups, encoding="utf-8"
            )
        handler.setFormatter(logging.Formatter("%(message)s"))
        self._handler = handler
        self._writer = asyncio.create_task(self._write_loop(), name="audit-writer")

    async def record(self, **event: Any) -> None:
        """Queue one record. Returns at once unless the queue is full and the policy says wait."""
        event["time"] = self._now()
        if "args" in event:
            event["args"] = redact(event["args"], self.secret_fields)
        try:
            self.queue.put_nowait(event)
            return
        except asyncio.QueueFull:
            pass
        if self.on_full == "wait":
            await self.queue.put(event)
            return
        if self.on_full == "wait_briefly":
            try:
                await asyncio.wait_for(self.queue.put(event), self.wait_s)
                return
            except TimeoutError:
                pass
        self.dropped += 1

    async def _write_loop(self) -> None:
        while True:
            batch = [await self.queue.get()]
            if self._linger and batch[0] is not None and self.queue.qsize() < _BATCH:
                await asyncio.sleep(_LINGER_S)
            while len(batch) < _BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            done = batch[-1] is None
            events = [e for e in batch if e is not None]
            if events:
                await asyncio.to_thread(self._write, events)
            if done:
                return

    def _now(self) -> str:
        """UTC time, ms precision, e.g. 2026-01-01T12:00:00.123Z: what
        datetime.now(timezone.utc).isoformat(timespec="milliseconds") says, with Z for +00:00
        (the same clock, truncated the same way), its seconds formatted once per second."""
        ns = time.time_ns()
        second = ns // 1_000_000_000
        if second != self._second:
            self._second, self._second_text = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._second_text}.{ns // 1_000_000 % 1000:03d}Z"

    def _write(self, events: list[dict[str, Any]]) -> None:
        """Render and write one batch (in the writer thread).

        Each line is structlog's JSON rendering of the event plus "event": "call". Lines are
        written per batch: one write and one flush per batch instead of a LogRecord, two stat()
        calls, a write and a flush per line (5 - 10 times less CPU per record).
        """
        lines = [_json_line(event) + "\n" for event in events]
        handler = self._handler
        try:
            if isinstance(handler, logging.handlers.RotatingFileHandler):
                _write_rotating(handler, lines)
            else:
                handler.stream.write("".join(lines))
                handler.flush()
        except Exception:  # as logging.Handler.emit does: report on stderr, keep the writer going
            handler.handleError(logging.makeLogRecord({"msg": "rcgate audit: %d record(s) not written",
                                                       "args": (len(lines),)}))
        self.written += len(events)

    async def close(self) -> None:
        """Write every queued record, flush, and stop the writer."""
        if self._writer is None:
            return
        await self.queue.put(None)
        await self._writer
        self._writer = None
        self._handler.flush()
        if self.path != "-":
            self._handler.close()


def _write_rotating(handler: logging.handlers.RotatingFileHandler, lines: list[str]) -> None:
    """Write `lines`, rolling over before the line that would reach maxBytes, as the handler's
    shouldRollover() decides per record: file position (bytes) + line length (characters)
    >= maxBytes, and the file is a regular file (or does not exist)."""
    if handler.stream is None:
        handler.stream = handler._open()
    stream = handler.stream
    limit = handler.maxBytes
    if limit <= 0:
        stream.write("".join(lines))
        stream.flush()
        return
    pending: list[str] = []
    position = stream.seek(0, 2)
    for line in lines:
        if position + len(line) >= limit and _rotatable(handler.baseFilename):
            if pending:
                stream.write("".join(pending))
                pending = []
            handler.doRollover()
            if handler.stream is None:
                handler.stream = handler._open()
            stream = handler.stream
            position = stream.seek(0, 2)
        pending.append(line)
        position += len(line) if line.isascii() else len(line.encode("utf-8"))
    stream.write("".join(pending))
    stream.flush()


def _rotatable(path: str) -> bool:
    """bpo-45401, as the handler: never roll over anything but a regular file."""
    return not (os.path.exists(path) and not os.path.isfile(path))
