"""The recorded answers of a real RhodeCode CE 4.22.0, read from `tests/standin/recordings/`.

The stand-in reads nothing else. The files are parsed once per process; what varies per
stand-in (its URL, its random tokens) is put in place of the recordings' placeholders
(`<SERVER>`, `<ADMIN_TOKEN>`, ... see `rhodecode-4.22/README.md`) by `substitute`.
"""
from __future__ import annotations

import functools
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RECORDINGS = Path(__file__).resolve().parent.parent / "recordings"
ANSWERS = RECORDINGS / "rhodecode-4.22"
SIGNATURES = RECORDINGS / "rhodecode-4.22-api.md"

# The token a recorded request authenticated with, by its `as` (README: "The body sent was
# {..., "auth_token": <token of "as">, ...}").
TOKEN_OF_CALLER = {"admin": "<ADMIN_TOKEN>", "regular": "<USER_TOKEN>"}

# Placeholders that stand for tokens: the two API tokens, the built-in feed tokens of those
# users, and the tokens of users left on the server by earlier runs.
TOKEN_PLACEHOLDER = re.compile(r"<(?:ADMIN_TOKEN|USER_TOKEN|[A-Z]+_OTHER_TOKEN_\d+|TOKEN_OF_[A-Za-z0-9_.-]+_\d+)>")

# What the stand-in puts where the recordings name the real server's paths and peers.
STANDIN_ROOT = "/opt/rhodecode-standin"
STANDIN_VCSSERVER = "127.0.0.1:10010"
STANDIN_PYTHON27 = "/usr/lib/python2.7-standin"


@dataclass(frozen=True)
class Example:
    """One recorded JSON-RPC exchange of a method file (`<method>.json`)."""

    file: str  # the method file's name without `.json`
    index: int  # position in that file
    note: str
    request_id: int
    method: str
    args: Any
    caller: str  # `as`: "admin" or "regular"
    response: Any
    http_status: int
    extra_headers: tuple[tuple[str, str], ...]


@functools.cache
def examples() -> tuple[Example, ...]:
    """Every example of every method file, in request-id order (the order of the recorded run)."""
    found = []
    for path in sorted(ANSWERS.glob("*.json")):
        if path.name.startswith("_"):
            continue
        for index, item in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            request = item["request"]
            found.append(Example(path.stem, index, item["note"], request["id"], request["method"],
                                 request.get("args"), request["as"], item["response"],
                                 item.get("http_status", 200),
                                 tuple(tuple(h) for h in item.get("extra_response_headers", ()))))
    found.sort(key=lambda e: e.request_id)
    return tuple(found)


@functools.cache
def envelope_exchanges() -> tuple[dict[str, Any], ...]:
    """The raw transport/envelope exchanges of `_envelope.json`."""
    return tuple(json.loads((ANSWERS / "_envelope.json").read_text(encoding="utf-8")))


def token_placeholders() -> list[str]:
    """Every token placeholder the recordings use, in first-seen order."""
    seen: dict[str, None] = {}
    for path in sorted(ANSWERS.glob("*.json")):
        for match in TOKEN_PLACEHOLDER.finditer(path.read_text(encoding="utf-8")):
            seen.setdefault(match.group(0))
    return list(seen)


def instance_placeholders(base_url: str, tokens: dict[str, str]) -> dict[str, str]:
    """Placeholder -> value for one running stand-in: its URL, paths and tokens."""
    hostport = base_url.split("://", 1)[-1]
    return {"<SERVER>": base_url, "<SERVER_HOSTPORT>": hostport, "<RC_ROOT>": STANDIN_ROOT,
            "<TMP>": tempfile.gettempdir(), "<VCSSERVER_HOSTPORT>": STANDIN_VCSSERVER,
            "<PYTHON27>": STANDIN_PYTHON27, **tokens}


def substitute(value: Any, mapping: dict[str, str]) -> Any:
    """`value` (JSON-like) with every placeholder of `mapping` replaced, in strings and keys."""
    if not mapping:
        return value
    pattern = re.compile("|".join(re.escape(k) for k in sorted(mapping, key=len, reverse=True)))

    def text(s: str) -> str:
        return pattern.sub(lambda m: mapping[m.group(0)], s) if "<" in s else s

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return text(v)
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {text(k): walk(x) for k, x in v.items()}
        return v

    return walk(value)
