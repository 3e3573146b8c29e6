"""Read mapping files, validate them with the schemas, and check that they agree.

A bad file stops the start: `MappingError` names the file and the key.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from marshmallow import ValidationError

from .. import yamlfile
from . import converters  # noqa: F401  (registers the converter names the schema checks)
from .schema import CanonicalSchema, DialectSchema

DIALECTS = ("rhodecode1", "kallithea", "rhodecode")


class MappingError(Exception):
    def __init__(self, file: Path | str, key: str, message: str) -> None:
        super().__init__(f"{file}: {key}: {message}")
        self.file, self.key, self.message = str(file), key, message


@dataclass(frozen=True)
class MappingSpec:
    """Validated, not yet compiled: plain dicts as the schemas loaded them."""

    directory: Path
    canonical: dict[str, Any]
    dialects: dict[str, dict[str, Any]]


def load_mappings(directory: Path | str) -> MappingSpec:
    directory = Path(directory)
    canonical = _load(directory / "canonical.yaml", CanonicalSchema())
    _check_composed(directory / "canonical.yaml", canonical)
    dialects = {}
    for name in DIALECTS:
        path = directory / f"{name}.yaml"
        raw = _read(path)
        spec = _validate(path, raw, DialectSchema())
        if spec["dialect"] != name:
            raise MappingError(path, "dialect", f"says `{spec['dialect']}`, the file name says `{name}`")
        _check_dialect(path, spec, canonical)
        dialects[name] = spec
        for version, overlay in spec["versions"].items():  # each a dialect of its own, `<dialect>@<version>`
            versioned = f"{name}@{version}"
            for part in ("methods", "objects"):  # an overlay changes rules; it adds no method or type
                for key in overlay[part]:
                    if key not in spec[part]:
                        raise MappingError(path, f"versions.{version}.{part}.{key}", f"not in this file's `{part}:`")
            merged = _validate(path, with_overlay(raw, raw["versions"][version], versioned), DialectSchema(),
                               f"versions.{version}.")
            _check_dialect(path, merged, canonical)
            merged.update(version_of=name, spellings=overlay["spellings"])
            _check_spellings(path, f"versions.{version}.spellings", overlay["spellings"], spec)
            dialects[versioned] = merged
    return MappingSpec(directory, canonical, dialects)


def with_overlay(raw: dict[str, Any], overlay: dict[str, Any], name: str) -> dict[str, Any]:
    """A dialect file's rules with a version's: a rule the overlay names (a method's `result`, an object
    type's `rename` ...) replaces the file's same rule; its error texts replace the file's same texts."""
    out = {k: v for k, v in raw.items() if k != "versions"}
    out["dialect"] = name
    out["about"] = overlay.get("about", raw.get("about", ""))
    out["errors"] = {**raw.get("errors", {}), **overlay.get("errors", {})}
    for part in ("methods", "objects"):
        merged = {k: dict(v or {}) for k, v in (raw.get(part) or {}).items()}
        for key, rules in (overlay.get(part) or {}).items():
            merged[key] = {**merged.get(key, {}), **(rules or {})}
        out[part] = merged
    return out


def _check_spellings(path: Path, where: str, spellings: dict[str, list[str]], spec: dict[str, Any]) -> None:
    for method, args in spellings.items():
        rules = spec["methods"].get(method)
        if rules is None:
            raise MappingError(path, f"{where}.{method}", "no such method in this file")
        rules = spec["methods"].get(rules.get("alias_of", method), rules)
        known = set(rules.get("aliases", {})) | set(rules.get("args", {}))
        for arg in args:
            if arg not in known:
                raise MappingError(path, f"{where}.{method}", f"`{arg}` is neither an alias nor a renamed argument here")


def _load(path: Path, schema: Any) -> dict[str, Any]:
    return _validate(path, _read(path), schema)


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = yamlfile.load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(path, "-", "file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "-"
        raise MappingError(path, where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise MappingError(path, "-", "the file must be a mapping of keys")
    return raw


def _validate(path: Path, raw: dict[str, Any], schema: Any, prefix: str = "") -> dict[str, Any]:
    try:
        return schema.load(raw)
    except ValidationError as exc:
        key, message = _first_error(exc.messages)
        raise MappingError(path, prefix + key, message) from None


def _first_error(messages: Any, prefix: str = "") -> tuple[str, str]:
    """Flatten marshmallow's nested error dict to its first `dotted.key`, message."""
    if isinstance(messages, dict):
        key, value = next(iter(messages.items()))
        if key == "_schema":
            return _first_error(value, prefix)
        if isinstance(value, dict) and set(value) <= {"key", "value"}:  # fields.Dict errors
            value = value.get("value") or value.get("key")
        return _first_error(value, f"{prefix}.{key}" if prefix else str(key))
    if isinstance(messages, list):
        return prefix or "-", "; ".join(str(m) for m in messages)
    return prefix or "-", str(messages)


def _check_composed(path: Path, canonical: dict[str, Any]) -> None:
    """Compositions name canonical methods and compile (references, converters)."""
    from .compose import TemplateError, compile_composition

    methods = canonical["methods"]
    for name, spec in canonical["composed"].items():
        if name not in methods:
            raise MappingError(path, f"composed.{name}", "no such method in `methods:`")
        _check_steps(path, f"composed.{name}.steps", spec["steps"], methods)
        for arg in spec.get("takes") or ():
            if arg not in methods[name]["args"]:
                raise MappingError(path, f"composed.{name}.takes", f"`{arg}` is no argument of `{name}`")
        try:
            compile_composition(name, spec, set(methods[name]["args"]))
        except TemplateError as exc:
            raise MappingError(path, exc.where, exc.message) from None


def _check_steps(path: Path, where: str, steps: list[dict], methods: dict[str, Any]) -> None:
    from .compose import TemplateError, compile_steps

    for i, step in enumerate(steps):
        for key, call in (("call", step["call"]), ("unless_found.call", (step.get("unless_found") or {}).get("call"))):
            if call is not None and call not in methods:
                raise MappingError(path, f"{where}[{i}].{key}", f"`{call}` is not in canonical.yaml")
    try:
        compile_steps(steps, set(), where)
    except TemplateError as exc:
        raise MappingError(path, exc.where, exc.message) from None


def _check_dialect(path: Path, spec: dict[str, Any], canonical: dict[str, Any]) -> None:
    """Cross-file rules: every name a dialect file uses must exist where it points."""
    methods = canonical["methods"]
    objects = canonical["objects"]
    for name, rules in spec["methods"].items():
        where = f"methods.{name}"
        if "alias_of" in rules:
            target = spec["methods"].get(rules["alias_of"])
            if target is None or "alias_of" in target:
                raise MappingError(path, f"{where}.alias_of", f"`{rules['alias_of']}` is no method of this file")
            continue
        canonical_name = rules.get("canonical", name)
        if canonical_name not in methods:
            raise MappingError(path, where, f"canonical method `{canonical_name}` is not in canonical.yaml")
        if "unsupported" in rules:
            continue
        known_args = methods[canonical_name]["args"]
        for dialect_arg, canonical_arg in rules["args"].items():
            if canonical_arg not in known_args:
                raise MappingError(path, f"{where}.args.{dialect_arg}", f"`{canonical_arg}` is no argument of `{canonical_name}`")
        for arg in rules["absent"]:
            if arg not in known_args:
                raise MappingError(path, f"{where}.absent", f"`{arg}` is no argument of `{canonical_name}`")
        dialect_args = {rules["args"].get(a, a) for a in known_args} | set(rules["args"])
        for old, new in rules["aliases"].items():
            if new not in dialect_args:
                raise MappingError(path, f"{where}.aliases.{old}", f"`{new}` is no argument of `{name}`")
        for arg, source in rules["args_from"].items():
            if arg not in known_args:
                raise MappingError(path, f"{where}.args_from.{arg}", f"`{arg}` is no argument of `{canonical_name}`")
            if source["method"] not in methods or methods[source["method"]]["args"] and any(
                    s["kind"] == "required" for s in methods[source["method"]]["args"].values()):
                raise MappingError(path, f"{where}.args_from.{arg}.method",
                                   f"`{source['method']}` must be a canonical method callable without arguments")
        _check_steps(path, f"{where}.before", rules["before"], methods)
        for field, arg in rules["result"]["from_call"].items():
            if arg not in known_args:
                raise MappingError(path, f"{where}.result.from_call.{field}", f"`{arg}` is no argument of `{canonical_name}`")
        for fetch in rules["result"]["fetch"]:
            if fetch["method"] not in methods:
                raise MappingError(path, f"{where}.result.fetch", f"`{fetch['method']}` is not in canonical.yaml")
    for obj in spec["objects"]:
        if obj not in objects:
            raise MappingError(path, f"objects.{obj}", "no such object type in canonical.yaml")
    for name in spec["admin_only"]:
        if name not in spec["methods"]:
            raise MappingError(path, "admin_only", f"`{name}` is no method of this file")
    served = {r.get("canonical", n): n for n, r in spec["methods"].items() if "alias_of" not in r}
    for cname in spec["cannot_serve"]:
        if cname not in methods:
            raise MappingError(path, f"cannot_serve.{cname}", "not a method of canonical.yaml")
        if cname in served:
            raise MappingError(path, f"cannot_serve.{cname}", f"`methods.{served[cname]}` serves it")
