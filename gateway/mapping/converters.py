"""Value converters: the named escape hatch for rules a rename cannot express.

Each converter is a pair of small functions: `up` turns a dialect value into the
canonical one, `down` turns it back. A mapping file names a converter under
`values:`; the engine calls it. Values a converter does not recognise pass
through unchanged, so a converter never turns a good answer into an error.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .schema import CONVERTER_NAMES


@dataclass(frozen=True)
class Converter:
    name: str
    up: Callable[[Any], Any]
    down: Callable[[Any], Any]
    about: str


CONVERTERS: dict[str, Converter] = {}


def converter(name: str, about: str):
    def register(pair: type) -> type:
        CONVERTERS[name] = Converter(name, staticmethod(pair.up), staticmethod(pair.down), about)
        CONVERTER_NAMES.add(name)
        return pair

    return register


@converter("landing_rev_list", "RhodeCode 1.x landing_rev `tip` <-> later [\"rev\", \"tip\"]")
class _LandingRevList:
    @staticmethod
    def up(value: Any) -> Any:
        if isinstance(value, str):
            kind, _, rev = value.rpartition(":")
            return [kind or "rev", rev]
        return value

    @staticmethod
    def down(value: Any) -> Any:
        if isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value):
            return value[1]
        return value


@converter("landing_rev_ref", "RhodeCode 1.x landing_rev argument `tip` <-> later `rev:tip`")
class _LandingRevRef:
    @staticmethod
    def up(value: Any) -> Any:
        if isinstance(value, str) and ":" not in value:
            return f"rev:{value}"
        return value

    @staticmethod
    def down(value: Any) -> Any:
        if isinstance(value, str) and ":" in value:
            return value.split(":", 1)[1]
        return value
