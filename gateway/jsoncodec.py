"""JSON in and out: orjson for speed, the standard library where exactness needs it.

orjson reads integers past 64 bits as floats and cannot write them; JSON-RPC ids
and arguments must come back exactly as sent, so such documents take the slow path.
"""
from __future__ import annotations

import json
import re
from typing import Any

import orjson

_BIG_INT = re.compile(rb"\d{19,}")


def loads(data: bytes) -> Any:
    """Parse JSON; raises ValueError (or RecursionError) with the standard library's message."""
    if not _BIG_INT.search(data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # the standard library decides, and words the error as real servers do
    return json.loads(data)


def dumps_compact(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj, separators=(",", ":")).encode()


def dumps_pretty(obj: Any) -> bytes:
    return json.dumps(obj, indent=4).encode()
