"""What RhodeCode 4.22's answers show of Python 2.7: dict order and `%s` formatting.

Python 2.7 dicts iterate in hash-table slot order, not in insertion order. Objects of a fixed
shape are rendered from templates (`shapes.py`); this module orders the dicts whose keys are
run-time data (a gist's file names, an error object's field names, `get_method`'s argument
names) exactly as the server would.

It mirrors `Objects/dictobject.c` of 2.7 with hash randomisation off (2.7's default): the
string hash, open addressing with the `5*i + 1 + perturb` probe sequence, and the resize to
4 x used when the table is two thirds full.
"""
from __future__ import annotations

from typing import Any, Iterable

_MASK64 = (1 << 64) - 1


def _hash(text: str) -> int:
    if not text:
        return 0
    x = (ord(text[0]) << 7) & _MASK64
    for ch in text:
        x = ((1000003 * x) & _MASK64) ^ ord(ch)
    x ^= len(text)
    if x >= 1 << 63:
        x -= 1 << 64
    return -2 if x == -1 else x


def _slot(table: list[str | None], key: str) -> int:
    mask = len(table) - 1
    h = _hash(key)
    i, perturb = h & _MASK64, h & _MASK64
    while True:
        entry = table[i & mask]
        if entry is None or entry == key:
            return i & mask
        i = ((i << 2) + i + perturb + 1) & _MASK64
        perturb >>= 5


def key_order(keys: Iterable[str], presize: int = 0) -> list[str]:
    """The order Python 2.7 iterates a dict built by inserting `keys` one by one."""
    table: list[str | None] = [None] * 8
    used = 0

    def resize(min_used: int) -> list[str | None]:
        size = 8
        while size <= min_used:
            size <<= 1
        new: list[str | None] = [None] * size
        for old in table:
            if old is not None:
                new[_slot(new, old)] = old
        return new

    if presize > 5:
        table = resize(presize)
    for key in keys:
        i = _slot(table, key)
        if table[i] == key:
            continue
        table[i] = key
        used += 1
        # fill == used: the stand-in never deletes from these dicts
        if used * 3 >= len(table) * 2:
            table = resize(4 * used)
    return [k for k in table if k is not None]


def ordered(mapping: dict[str, Any]) -> dict[str, Any]:
    """`mapping` re-ordered as Python 2.7 would iterate it after inserting its keys in order."""
    return {k: mapping[k] for k in key_order(mapping)}


def py2str(value: Any) -> str:
    """How Python 2's `'%s' % value` prints a JSON value in 4.22's messages."""
    if value is None:
        return "None"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, float):
        return py2float(value)
    if isinstance(value, (list, dict)):
        return py2repr(value)
    return str(value)


def py2float(value: float) -> str:
    """Python 2's str(float): 12 significant digits, always with a dot or an exponent."""
    if value != value or value in (float("inf"), float("-inf")):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}[repr(value)]
    text = format(value, ".12g")
    return text if any(c in text for c in ".e") else text + ".0"


def py2repr(value: Any) -> str:
    """Python 2's repr of a JSON value (strings from JSON are unicode: u'...')."""
    if isinstance(value, str):
        return "u" + repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(py2repr(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py2repr(k)}: {py2repr(v)}" for k, v in value.items()) + "}"
    return py2str(value)
