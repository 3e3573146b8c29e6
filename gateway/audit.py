"""The audit trail: one JSON line per call, secrets redacted, written off the request path.

`record()` only redacts and enqueues; a writer task renders with structlog and
writes. The queue is unbounded by default so no record is ever dropped; `close()`
drains it before the process exits.
"""
from __future__ import annotations

import asyncio
import hashlib
import sys
from pathlib import Path
from typing import IO, Any

import orjson
import structlog

DEFAULT_SECRET_FIELDS = frozenset({"api_key", "api_keys", "auth_token", "auth_tokens", "password", "secret", "token"})
REDACTED = "<redacted>"


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


class AuditLog:
    def __init__(self, path: str, extra_secret_fields: list[str] | None = None) -> None:
        self.path = path
        self.secret_fields = DEFAULT_SECRET_FIELDS | frozenset(extra_secret_fields or ())
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.written = 0
        self._stream: IO[bytes] | None = None
        self._writer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.path == "-":
            self._stream = sys.stdout.buffer
        else:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._stream = open(self.path, "ab")
        self._logger = structlog.wrap_logger(
            structlog.BytesLogger(self._stream),
            processors=[
                structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
                structlog.processors.JSONRenderer(serializer=orjson.dumps),
            ],
        )
        self._writer = asyncio.create_task(self._write_loop(), name="audit-writer")

    def record(self, **event: Any) -> None:
        """Queue one record; never blocks the request."""
        if "args" in event:
            event["args"] = redact(event["args"], self.secret_fields)
        self.queue.put_nowait(event)

    async def _write_loop(self) -> None:
        while True:
            event = await self.queue.get()
            if event is None:
                break
            self._logger.info("call", **event)
            self.written += 1
            if self.queue.empty():
                self._stream.flush()

    async def close(self) -> None:
        """Write every queued record, flush, and stop the writer."""
        if self._writer is None:
            return
        self.queue.put_nowait(None)
        await self._writer
        self._writer = None
        self._stream.flush()
        if self._stream is not sys.stdout.buffer:
            self._stream.close()
