"""The audit trail: one JSON line per call, secrets redacted, written off the request path.

`record()` redacts and enqueues; a writer task hands batches to a thread that
renders them with structlog and writes them through a stdlib rotating file
handler, so neither the request nor the event loop waits on the disk. `close()`
writes everything still queued before the process exits.

When the queue is full (`audit.queue_size`), `audit.on_full` decides:
`wait` (default) — the answer waits for room, nothing is ever dropped;
`wait_briefly` — wait up to `audit.wait_ms`, then drop and count;
`drop` — drop at once and count. Drops are counted in `dropped` (and /metrics).
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import logging.handlers
import sys
from datetime import datetime, timezone
from typing import Any

import orjson
import structlog

DEFAULT_SECRET_FIELDS = frozenset({"api_key", "api_keys", "auth_token", "auth_tokens", "password", "secret", "token"})
REDACTED = "<redacted>"
_BATCH = 512


def key_fingerprint(key: Any) -> str | None:
    """A short stable hash that identifies a caller without revealing the key."""
    if not isinstance(key, str) or not key:
        return None
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def redact(value: Any, secret_fields: frozenset[str]) -> Any:
    """A copy of `value` with every secret field replaced, at any depth."""
    if isinstance(value, dict):
        return {k: REDACTED if k in secret_fields else redact(v, secret_fields) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, secret_fields) for v in value]
    return value


def _json_line(_: Any, __: str, event: dict[str, Any]) -> str:
    return orjson.dumps(event, default=str).decode()


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

    async def start(self) -> None:
        if self.path == "-":
            handler: logging.Handler = logging.StreamHandler(sys.stdout)
        else:
            handler = logging.handlers.RotatingFileHandler(
                self.path, maxBytes=self.max_bytes, backupCount=self.backups, encoding="utf-8"
            )
        handler.setFormatter(logging.Formatter("%(message)s"))
        self._handler = handler
        sink = logging.Logger(f"rcgate.audit.{id(self)}")  # private: never reaches the root logger
        sink.addHandler(handler)
        sink.propagate = False
        self._logger = structlog.wrap_logger(sink, processors=[_json_line])
        self._writer = asyncio.create_task(self._write_loop(), name="audit-writer")

    async def record(self, **event: Any) -> None:
        """Queue one record. Returns at once unless the queue is full and the policy says wait."""
        event["time"] = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
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
            while len(batch) < _BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            done = batch[-1] is None
            events = [e for e in batch if e is not None]
            if events:
                await asyncio.to_thread(self._write, events)
            if done:
                return

    def _write(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self._logger.info("call", **event)
        self._handler.flush()
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
