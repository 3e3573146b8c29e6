"""JSON in and out: orjson for speed, the standard library where exactness needs it.

orjson reads integers past 64 bits as floats and cannot write them; JSON-RPC ids
and arguments must come back exactly as sent, so such documents take the slow path.

Both paths accept the same language, strict JSON (RFC 8259): the standard library
would also take `NaN`, `Infinity`, numbers that overflow to infinity (`1e999`) and
lone surrogates (`"\\ud800"`), which orjson refuses and which nothing downstream can
write back out as JSON; `loads` refuses them too.
"""
from __future__ import annotations

import json
import re
from typing import Any

import orjson

_BIG_INT = re.compile(rb"\d{19,}")
# The same test as _BIG_INT.search, ten times faster: every ASCII digit becomes "0", every
# other byte a space, then one substring search for 19 zeros (the regex engine steps
# through the body one byte at a time; translate and `in` run in C over the whole body).
_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_NINETEEN_DIGITS = b"0" * 19


def _has_big_int(data: Any) -> bool:
    """Does `data` hold a run of 19 or more digits (a number orjson might not read exactly)?"""
    if isinstance(data, (bytes, bytearray)):
        return _NINETEEN_DIGITS in data.translate(_DIGITS)
    return _BIG_INT.search(data) is not None


def loads(data: bytes) -> Any:
    """Parse JSON; raises ValueError (or RecursionError) with the standard library's message."""
    if not _has_big_int(data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # the standard library decides, and words the error as real servers do
    value = json.loads(data, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_int)
    _check_strings(value)
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # over sys.get_int_max_str_digits(): say so without Python's advice
        raise ValueError(f"integer too long ({len(text)} digits)") from None


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number out of range: {text[:40]}")
    return value


def _check_strings(value: Any) -> None:
    """Refuse lone surrogates anywhere (keys too): they cannot be encoded as UTF-8."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            _utf8(item)
        elif isinstance(item, dict):
            for k, v in item.items():
                _utf8(k)
                stack.append(v)
        elif isinstance(item, list):
            stack.extend(item)


def _utf8(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("invalid \\u escape: a lone surrogate is not a character") from None


def depth_exceeds(value: Any, limit: int) -> bool:
    """Is any array or object in parsed JSON `value` nested deeper than `limit` (the top level is 1)?

    Level by level, containers only, no recursion: about 0.3 µs per container.
    """
    level = [value] if type(value) in (dict, list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: list[Any] = []
        for item in level:
            below.extend([c for c in (item.values() if type(item) is dict else item) if type(c) in (dict, list)])
        level = below
    return False


def may_nest_deeper(data: bytes, limit: int) -> bool:
    """A cheap bound: fewer than `limit` brackets cannot nest deeper than `limit`."""
    return data.count(b"[") + data.count(b"{") > limit


def dumps_compact(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj, separators=(",", ":")).encode()


def dumps_pretty(obj: Any) -> bytes:
    """`json.dumps(obj, indent=4)`, byte for byte, 3 to 5 times faster through orjson.

    orjson indents by 2, and writes non-ASCII text, DEL and some floats differently;
    so a document holding any of those, or any value that is not a plain dict, list,
    str, int, bool or None (floats, subclasses, big integers, non-string keys), takes
    the standard library. The rest is orjson's output re-indented to 4 spaces.
    """
    if _plain(obj):
        try:
            out = orjson.dumps(obj, option=_PRETTY)
        except TypeError:  # orjson.JSONEncodeError is a TypeError: big integers, non-string keys
            pass
        else:
            if out.isascii() and b"\x7f" not in out:
                return _reindent(out, orjson.dumps(obj, option=_PLAIN))
    return json.dumps(obj, indent=4).encode()


# subclasses of str, int, dict and list go to the standard library too
_PLAIN = orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_PRETTY = orjson.OPT_INDENT_2 | _PLAIN
_NOT_CONTAINERS = frozenset({str, int, bool, type(None)})


def _plain(value: Any) -> bool:
    """Only dicts, lists, tuples, strings, integers, booleans and None, at any depth?"""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif kind not in _NOT_CONTAINERS:
            return False  # a float (orjson may write it otherwise), or anything unusual
    return True


# Pass L gives every line indented at least L levels 2 more spaces: by then such lines
# start with "\n" + (4L - 2) spaces. (A newline is always indentation: strings escape theirs.)
_REINDENT = [(b"\n" + b" " * (4 * level - 2), b"\n" + b" " * (4 * level)) for level in range(1, 1025)]


def _reindent(out: bytes, compact: bytes) -> bytes:
    """orjson's 2-space indentation to the standard library's 4."""
    if b"  " not in compact:  # no string holds two spaces in a row: every pair of spaces is indentation
        return out.replace(b"  ", b"    ")
    for old, new in _REINDENT:
        size = len(out)
        out = out.replace(old, new)
        if len(out) == size:  # no line that deep
            break
    return out
