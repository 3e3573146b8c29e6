"""Compile validated mapping files into plain functions, once, at start or reload.

For every dialect and method the engine derives both directions from one set of
rules: `up` (this dialect -> canonical) for a caller's request and a backend's
answer, `down` (canonical -> this dialect) for a backend request and a caller's
answer. Nothing here runs per request except the closures it returns.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from ..canonical import CanonicalMethod, build_canonical
from ..errors import RpcError
from .compose import Composition, Step, compile_composition, compile_steps
from .converters import CONVERTERS
from .loader import MappingSpec

Transform = Callable[[Any], Any]


def identity(value: Any) -> Any:
    return value


# --------------------------------------------------------------------------- compiled forms


@dataclass(frozen=True, slots=True)
class Fetch:
    into: str  # canonical result field (with `each`: a field of each item)
    method: str  # canonical method
    args: dict[str, str]  # {fetch arg: original call's canonical arg} (with `each`: a field of the item)
    each: str | None = None  # a canonical result field holding a list: one read per item
    where: tuple[tuple[str, Any], ...] = ()  # only items with these field values
    drop: frozenset[str] = frozenset()  # fields of the fetched object left out
    at_most: int = 50  # reads per call
    convert: Callable[[Any], Any] | None = None  # the field's value from the fetched answer

    def items(self, result: Any) -> list[dict[str, Any]]:
        """The items of `result` this fetch fills (at most `at_most`), with `each`."""
        listed = result.get(self.each) if isinstance(result, dict) else None
        if not isinstance(listed, list):
            return []
        wanted = [i for i in listed if isinstance(i, dict) and self.into not in i
                  and all(i.get(k) == v for k, v in self.where)]
        return wanted[: self.at_most]

    def fetched(self, value: Any) -> Any:
        if self.convert is not None:
            value = self.convert(value)
        return {k: v for k, v in value.items() if k not in self.drop} if isinstance(value, dict) else value


@dataclass(frozen=True, slots=True)
class Inbound:
    """A caller's method: its call goes up to canonical, the canonical answer comes down."""

    dialect: str
    name: str
    canonical: str
    unsupported: str | None
    to_canonical: Callable[..., dict[str, Any]]  # (args, strict=True); strict raises RpcError
    as_sent: Callable[[dict[str, Any]], dict[str, Any]]  # every argument, older spellings renamed (same dialect)
    accepted_args: frozenset[str]  # every argument name this dialect's callers may use here
    required_args: tuple[str, ...]  # the arguments this dialect's server required, as this dialect names them
    arg_names: dict[str, str]  # canonical arg -> this dialect's name (for error texts)
    result_down: Transform
    fetches: tuple[Fetch, ...]
    before: tuple[Step, ...] = ()  # calls this dialect's server made itself first (1.x: the parents of a new repo)


@dataclass(frozen=True, slots=True)
class Outbound:
    """A canonical call as this dialect's server takes it, and its answer back up."""

    method: str
    unsupported: str | None
    args_down: Callable[[dict[str, Any]], dict[str, Any]]  # raises RpcError
    result_up: Transform
    from_call: tuple[tuple[str, str], ...] = ()  # (canonical result field, canonical argument) the server left out
    args_from: tuple[tuple[str, str, str], ...] = ()  # (canonical argument, canonical method, result field)
    composed: Composition | None = None  # answered by other methods of this server (canonical `composed:`)
    before: tuple[Step, ...] = ()  # calls this server needs first to do what canonical says

    def args_wanted(self, canonical_args: dict[str, Any]) -> list[tuple[str, str, str]]:
        """Arguments this server requires that the call leaves to their default: read them first."""
        return [a for a in self.args_from if a[0] not in canonical_args]

    def answer_up(self, result: Any, canonical_args: dict[str, Any]) -> Any:
        """The server's result read up, with what it did not repeat of the call filled in."""
        result = self.result_up(result)
        if self.from_call and isinstance(result, dict):
            for field_name, arg in self.from_call:
                if field_name not in result and arg in canonical_args:
                    result[field_name] = canonical_args[arg]
        return result


@dataclass(frozen=True, slots=True)
class Envelope:
    key_fields: tuple[str, ...]
    send_key_as: str
    required: tuple[str, ...]
    id_when_key_missing: str
    layout: str
    unknown_args: str
    unknown_methods: str
    key_order: tuple[str, ...]
    falsy_id_success: str
    empty_key: str
    canonical_header: bool
    url_decodes_body: bool
    after_key: frozenset[str]


@dataclass
class ErrorCatalogue:
    """A dialect's error texts: render (code, params) -> text, parse text -> (code, params)."""

    templates: dict[str, str]
    _patterns: list[tuple[str, re.Pattern[str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        readable = ((c, t) for c, t in self.templates.items() if c not in _NEVER_FROM_A_BACKEND)
        by_literal_length = sorted(readable, key=lambda kv: -len(_PLACEHOLDER.sub("", kv[1])))
        self._patterns = [(code, template_regex(t)) for code, t in by_literal_length]

    def render(self, code: str, params: dict[str, Any]) -> str:
        template = self.templates.get(code) or self.templates["internal_error"]
        return _PLACEHOLDER.sub(lambda m: str(params.get(m.group(1), m.group(0))), template)

    def parse(self, text: str) -> tuple[str, dict[str, str]] | None:
        for code, pattern in self._patterns:
            m = pattern.fullmatch(text)
            if m:
                return code, m.groupdict()
        return None


_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# refusals for a method name no backend is ever sent: a backend's text is never one of them (and 4.x's
# "No such method: {pyrepr}. Similar methods: none" would otherwise swallow every "no such method")
_NEVER_FROM_A_BACKEND = frozenset({"method_not_string", "method_not_ascii"})


def template_regex(template: str) -> re.Pattern[str]:
    parts, last, seen = [], 0, set()
    for m in _PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[last : m.start()]))
        name = m.group(1)
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.*?)")
        seen.add(name)
        last = m.end()
    parts.append(re.escape(template[last:]))
    return re.compile("".join(parts), re.DOTALL)


@dataclass
class Dialect:
    name: str
    about: str
    envelope: Envelope
    errors: ErrorCatalogue
    inbound: dict[str, Inbound]  # by this dialect's method name, aliases included
    outbound: dict[str, Outbound]  # by canonical method name
    admin_only: frozenset[str] = frozenset()  # this dialect's methods its server allows super-admins only
    version_of: str | None = None  # an older version of that dialect (`rhodecode1@1.3`): it serves callers only
    # (versioned dialect, {method: argument names}): a call that uses one of those names is that version's
    versions: tuple[tuple[str, dict[str, frozenset[str]]], ...] = ()

    @property
    def family(self) -> str:
        """The dialect a version belongs to (routes name dialects, not their versions)."""
        return self.version_of or self.name

    def version_spelled_by(self, method: str, args: dict[str, Any]) -> str | None:
        """The older version of this dialect whose argument spellings the call uses, if any."""
        for name, spellings in self.versions:
            names = spellings.get(method)
            if names and not names.isdisjoint(args):
                return name
        return None


@dataclass
class Mappings:
    """Everything the request path needs, compiled."""

    canonical: dict[str, CanonicalMethod]
    dialects: dict[str, Dialect]
    spec: MappingSpec


# --------------------------------------------------------------------------- compiler


def compile_mappings(spec: MappingSpec) -> Mappings:
    canonical = build_canonical(spec.canonical)
    compositions = {m: compile_composition(m, c, set(canonical[m].args)) for m, c in spec.canonical["composed"].items()}
    dialects = {name: _compile_dialect(d, canonical, spec.canonical["objects"], compositions)
                for name, d in spec.dialects.items()}
    for name, d in spec.dialects.items():  # each older version: known to its dialect by its spellings
        base = d.get("version_of")
        if base is not None:
            spellings = _with_alias_names(d["spellings"], spec.dialects[base]["methods"])
            dialects[base].versions += ((name, spellings),)
    return Mappings(canonical, dialects, spec)


def _compile_dialect(d: dict[str, Any], canonical: dict[str, CanonicalMethod], object_tree: dict,
                     compositions: dict[str, Composition]) -> Dialect:
    env = d["envelope"]
    envelope = Envelope(
        key_fields=tuple(env["key_fields"]),
        send_key_as=env["send_key_as"],
        required=tuple(env["required"]),
        id_when_key_missing=env["id_when_key_missing"],
        layout=env["layout"],
        unknown_args=env["unknown_args"],
        unknown_methods=env["unknown_methods"],
        key_order=tuple(env["key_order"]),
        falsy_id_success=env["falsy_id_success"],
        empty_key=env["empty_key"],
        canonical_header=env["canonical_header"],
        url_decodes_body=env["url_decodes_body"],
        after_key=frozenset(env["after_key"]),
    )
    objects = _ObjectCompiler(d["objects"], object_tree)
    inbound: dict[str, Inbound] = {}
    outbound: dict[str, Outbound] = {}
    primary = {n: r for n, r in d["methods"].items() if "alias_of" not in r}
    for name, rules in primary.items():
        cname = rules.get("canonical", name)
        method = canonical[cname]
        unsupported = rules.get("unsupported")
        if unsupported:
            down = up = as_sent = identity
            result_down = result_up = identity
            accepted, required = frozenset(), ()
        else:
            up, down, as_sent, accepted, required = _compile_args(name, rules, method, envelope.unknown_args)
            result_up, result_down = _compile_result(rules["result"], method.result, objects)
        fetches = tuple(Fetch(f["into"], f["method"], f["args"], f.get("each"), tuple(f["where"].items()),
                              frozenset(f["drop"]), f["at_most"], CONVERTERS[f["convert"]].up if f.get("convert") else None)
                        for f in rules["result"]["fetch"]) if not unsupported else ()
        inbound[name] = Inbound(
            dialect=d["dialect"],
            name=name,
            canonical=cname,
            unsupported=unsupported,
            to_canonical=up,
            as_sent=as_sent,
            accepted_args=accepted,
            required_args=required,
            arg_names={c: dn for dn, c in rules["args"].items()},
            result_down=result_down,
            fetches=fetches,
        )
        from_call = tuple(rules["result"]["from_call"].items()) if not unsupported else ()
        args_from = tuple((a, f["method"], f["field"]) for a, f in rules["args_from"].items()) if not unsupported else ()
        before = compile_steps(rules["before"], set(method.args), f"methods.{name}.before") if not unsupported else ()
        inbound[name] = replace(inbound[name], before=before)
        outbound.setdefault(cname, Outbound(name, unsupported, down, result_up, from_call, args_from, None, before))
    for cname, reason in d["cannot_serve"].items():  # refused when this dialect is the backend
        outbound[cname] = Outbound(cname, reason, identity, identity)
    _serve_twins(outbound, canonical)  # a method and its deprecated alias: one backend method serves both
    for cname, comp in compositions.items():  # what this server lacks but can do with the methods it has
        if (cname not in outbound or outbound[cname].unsupported) and _can_compose(comp, outbound):
            outbound[cname] = Outbound("+".join(dict.fromkeys(outbound[c].method for c in comp.calls)), None,
                                       _honoured_by(comp, canonical[cname]), identity, composed=comp)
    _serve_twins(outbound, canonical)  # ... also where a composition serves one of them
    for name in list(inbound):  # fetched fields come down as their own method's result
        entry = inbound[name]
        if entry.fetches:
            inbound[name] = _with_fetched_fields(entry, inbound, primary[name]["result"]["rename"])
    for name, rules in d["methods"].items():
        if "alias_of" in rules:
            inbound[name] = inbound[rules["alias_of"]]
    return Dialect(d["dialect"], d.get("about", ""), envelope, ErrorCatalogue(d["errors"]), inbound, outbound,
                   frozenset(d["admin_only"]), d.get("version_of"))


def _with_alias_names(spellings: dict[str, list[str]], methods: dict[str, dict]) -> dict[str, frozenset[str]]:
    """A version's spellings of a method, under that method's second names (`alias_of`) too."""
    out = {m: frozenset(a) for m, a in spellings.items()}
    for name, rules in methods.items():
        target = rules.get("alias_of")
        if target in out and name not in out:
            out[name] = out[target]
    return out


def _can_compose(comp: Composition, outbound: dict[str, Outbound]) -> bool:
    """Every step's method is served here as such, and takes the step's fixed arguments (RhodeCode 1.x's
    get_repo has no `with_pullrequests`: no pull requests composed from it)."""
    for step in comp.steps:
        served = outbound.get(step.call)
        if served is None or served.unsupported or served.composed is not None:
            return False
        fixed = {k: v for k, v in step.arg_spec.items() if not (isinstance(v, str) and "$" in v) and not isinstance(v, dict)}
        try:
            served.args_down(fixed)
        except RpcError:
            return False
    return True


def _serve_twins(outbound: dict[str, Outbound], canonical: dict[str, CanonicalMethod]) -> None:
    for cname, method in canonical.items():
        twin = method.same_as
        if twin is not None:
            for a, b in ((cname, twin), (twin, cname)):
                if (a not in outbound or outbound[a].unsupported) and b in outbound and not outbound[b].unsupported:
                    outbound[a] = outbound[b]


def _honoured_by(comp: Composition, method: CanonicalMethod) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A composed call's arguments pass as they are; one it cannot honour (`takes:`) is refused, unless it
    is at its canonical default: rcgate never drops what a caller asked for."""
    takes = comp.takes

    def check(args: dict[str, Any]) -> dict[str, Any]:
        if takes is not None:
            for arg, value in args.items():
                if arg not in takes and not (arg in method.defaults and value == method.defaults[arg]):
                    raise RpcError("unsupported_arg", arg=arg, method=method.name)
        return args

    return check


def _with_fetched_fields(entry: Inbound, inbound: dict[str, Inbound], rename: dict[str, str]) -> Inbound:
    by_canonical = {i.canonical: i for i in inbound.values()}
    base = entry.result_down
    steps = []
    for f in entry.fetches:
        target = by_canonical.get(f.method)
        if target is not None and f.each is None and f.convert is None:  # else: by its object type
            steps.append(({c: dn for dn, c in rename.items()}.get(f.into, f.into), target.result_down))

    def result_down(value: Any) -> Any:
        out = base(value)
        if isinstance(out, dict):
            for key, convert in steps:
                if key in out:
                    out[key] = convert(out[key])
        return out

    return replace(entry, result_down=result_down)


def _compile_args(name: str, rules: dict, method: CanonicalMethod, unknown_policy: str):
    """(to_canonical, args_down, as_sent, accepted names, required names) for one method's arguments."""
    rename_up = dict(rules["args"])  # dialect -> canonical
    rename_down = {c: dn for dn, c in rename_up.items()}
    aliases = dict(rules["aliases"])  # old spelling -> dialect name
    absent = frozenset(rules["absent"])
    always = dict(rules["always"])
    as_if = tuple(rules["as_if"].items())  # what this dialect's server always did: its callers' calls say so
    paths = tuple(PathRule(c, **spec) for c, spec in rules["paths"].items())
    # every name this dialect accepts, to its canonical name; a canonical name that this dialect
    # renames is not among them (a Kallithea caller's `revision` is unknown: Kallithea says `raw_id`),
    # nor one it only gives in two parts (Kallithea's update_repo has `name` + `group`, no `repo_name`)
    split_only = {p.canonical for p in paths if not p.inbound_only and p.name != p.canonical}
    accepted = {rename_down.get(a, a): a for a in method.args if a not in absent and a not in split_only}
    accepted_names = frozenset(accepted) | frozenset(aliases) | {n for p in paths for n in (p.parent, p.name)}
    values = {a: CONVERTERS[c] for a, c in rules["values"].items()}
    conv_up = {a: c.up for a, c in values.items()}
    conv_down = {a: c.down for a, c in values.items()}
    arg_name = {c: rename_down.get(c, c) for c in method.args}
    # which arguments this dialect's callers must give: canonical's, as this dialect's server had them
    required = tuple(a for a in method.args if (a in method.required and a not in rules["optional"])
                     or a in rules["required"])
    reject = unknown_policy == "reject"
    cmethod = method.name

    def to_canonical(args: dict[str, Any], strict: bool = True) -> dict[str, Any]:
        """The canonical arguments; `strict=False` only reads them (no required or unknown check)."""
        out: dict[str, Any] = {}
        unknown = []
        parts = [(p, p.take(args)) for p in paths if p.applies(args)]
        consumed = {k for _, given in parts for k in given}
        for given, value in args.items():
            if given in consumed:
                continue
            dialect_arg = aliases.get(given, given)
            canonical_arg = accepted.get(dialect_arg)
            if canonical_arg is None:
                unknown.append(given)
                continue
            if given in aliases and canonical_arg in out:
                continue  # the current spelling wins over an older alias
            convert = conv_up.get(dialect_arg)
            out[canonical_arg] = convert(value) if convert else value
        for rule, given in parts:
            if rule.canonical not in out:  # the full path given as such wins over its parts
                path = rule.join(given, out, cmethod, arg_name)
                if path is not None:
                    out[rule.canonical] = path
        for arg, value in as_if:
            out[arg] = value
        if not strict:
            return out
        missing = [a for a in required if a not in out]
        if missing:  # checked before unknown arguments, as Kallithea does
            # Kallithea on Python 3 names the last missing argument; we do the same everywhere.
            raise RpcError("missing_arg", arg=arg_name[missing[-1]])
        if unknown and reject:
            raise RpcError("unknown_args", args=", ".join(f"`{a}`" for a in unknown))
        return out

    defaults = tuple(rules["defaults"].items())  # this server requires what other dialects may omit
    splits = {p.canonical: p for p in paths if not p.inbound_only}

    def args_down(args: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for canonical_arg, value in args.items():
            if canonical_arg in absent:
                if canonical_arg in method.defaults and value == method.defaults[canonical_arg]:
                    continue  # the backend would use the same value anyway
                if canonical_arg in always and value == always[canonical_arg]:
                    continue  # what this server always does
                raise RpcError("unsupported_arg", arg=canonical_arg, method=cmethod)
            if canonical_arg in splits:
                out.update(splits[canonical_arg].split(value))
                continue
            dialect_arg = rename_down.get(canonical_arg, canonical_arg)
            convert = conv_down.get(dialect_arg)
            out[dialect_arg] = convert(value) if convert else value
        for dialect_arg, value in defaults:
            if dialect_arg not in out:
                out[dialect_arg] = value
        return out

    joins = tuple(p for p in paths if p.inbound_only)

    def as_sent(args: dict[str, Any]) -> dict[str, Any]:
        """What a server of this very dialect gets: everything the caller sent, older spellings renamed."""
        if aliases and any(a in aliases for a in args):
            renamed = {aliases.get(a, a): v for a, v in args.items() if a not in aliases}
            for given, value in args.items():
                if given in aliases:
                    renamed.setdefault(aliases[given], value)  # the current spelling wins over an older alias
            args = renamed
        for rule in joins:  # an older two-part spelling of a path this server takes whole
            if rule.applies(args) and rule.canonical not in args:
                given = rule.take(args)
                try:
                    path = rule.join(given, {**args, **to_canonical(args, strict=False)}, cmethod, arg_name)
                except RpcError:
                    continue  # cannot be joined here (an id instead of a path): the server decides
                if path is not None:
                    args = {k: v for k, v in args.items() if k not in given}
                    args[rule.canonical] = path
        return args

    return to_canonical, args_down, as_sent, accepted_names, tuple(arg_name[a] for a in required)


MISSING = object()


@dataclass(frozen=True, slots=True)
class PathRule:
    """A canonical path argument ("a/b/c") that a dialect gives as a parent ("a/b") and a name ("c")."""

    canonical: str
    parent: str
    name: str
    current: str | None = None  # canonical argument naming the object changed: its path fills a missing part
    inbound_only: bool = False
    only_with_parent: bool = False

    def applies(self, args: dict[str, Any]) -> bool:
        return self.parent in args or (not self.only_with_parent and self.name in args)

    def take(self, args: dict[str, Any]) -> dict[str, Any]:
        return {k: args[k] for k in (self.parent, self.name) if k in args}

    def join(self, given: dict[str, Any], canonical_args: dict[str, Any], method: str,
             arg_name: dict[str, str]) -> str | None:
        """The full path, or None when the call gives neither part (null is omitted, as in Kallithea)."""
        parent = given.get(self.parent, MISSING)
        name = given.get(self.name, MISSING)
        parent = MISSING if parent is None else parent
        name = MISSING if name is None else name
        if parent is MISSING and name is MISSING:
            return None
        if parent is MISSING or name is MISSING:  # the object keeps that part of its path
            if self.current is None:  # a new object: no parent means the top level
                cur_parent, cur_name = "", MISSING
            else:
                current = canonical_args.get(self.current)
                if not isinstance(current, str):  # an id: its path is unknown here
                    raise RpcError("path_needs_name", arg=arg_name.get(self.current, self.current), method=method)
                cur_parent, _, cur_name = current.rpartition("/")
            parent = cur_parent if parent is MISSING else parent
            name = cur_name if name is MISSING else name
        if name is MISSING:
            return None
        if not isinstance(parent, str) or not isinstance(name, str):
            raise RpcError("path_needs_name", arg=self.parent if not isinstance(parent, str) else self.name, method=method)
        return f"{parent.rstrip('/')}/{name}" if parent else name

    def split(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, str):
            return {self.name: value}
        parent, _, name = value.rpartition("/")
        return {self.parent: parent, self.name: name} if parent else {self.name: name}


def _compile_result(rules: dict, shape: Any, objects: "_ObjectCompiler") -> tuple[Transform, Transform]:
    """(result_up, result_down) for one method's result."""
    if rules.get("convert"):  # the whole result, by one converter
        pair = CONVERTERS[rules["convert"]]
        return pair.up, pair.down
    if isinstance(shape, dict):  # a wrapper object: the method's rules apply to it, children typed
        up = objects.object_fn(rules, shape, "up")
        down = objects.object_fn(rules, shape, "down")
    else:
        base_up, base_down = objects.typed(shape, "up"), objects.typed(shape, "down")
        top_up, top_down = objects.object_fn(rules, {}, "up"), objects.object_fn(rules, {}, "down")
        up = _compose(base_up, top_up)
        down = _compose(top_down, base_down)
    extra, implied = frozenset(rules.get("extra", ())), tuple(rules.get("implied", {}).items())
    if extra or implied:  # read up from this dialect's server: its own fields out, implicit ones in
        read_up = up

        def up(value: Any) -> Any:
            value = read_up(value)
            if isinstance(value, dict):
                value = {k: v for k, v in value.items() if k not in extra}
                for k, v in implied:
                    value.setdefault(k, v)
            return value

    field_name = rules.get("from_field")
    if field_name:
        inner_up, inner_down = up, down

        def up(value: Any) -> Any:
            return inner_up({field_name: value}) if not isinstance(value, dict) else inner_up(value)

        def down(value: Any) -> Any:
            value = inner_down(value)
            return value.get(field_name) if isinstance(value, dict) else value

    return up, down


def _compose(outer: Transform, inner: Transform) -> Transform:
    if outer is identity:
        return inner
    if inner is identity:
        return outer
    return lambda value: outer(inner(value))


class _ObjectCompiler:
    """Builds, per direction, one function per object type, walking nested objects."""

    def __init__(self, rules: dict[str, dict], tree: dict[str, dict[str, str]]) -> None:
        self.rules = rules
        self.tree = tree
        self.cache: dict[tuple[str, str], Transform] = {}

    def typed(self, kind: str | None, direction: str) -> Transform:
        if kind is None:
            return identity
        key = (kind, direction)
        if key not in self.cache:
            self.cache[key] = lambda v: self.cache[key](v)  # placeholder for recursive types
            self.cache[key] = self.object_fn(self.rules.get(kind, {}), self.tree.get(kind, {}), direction)
        return self.cache[key]

    def object_fn(self, rules: dict, children: dict[str, Any], direction: str) -> Transform:
        child_fns = {}
        rename_up = dict(rules.get("rename", {}))
        within = {rename_up.get(f, f): r for f, r in rules.get("within", {}).items()}  # by canonical field
        for field_name, kind in children.items():
            fn = self.typed(kind, direction) if isinstance(kind, str) else self.object_fn({}, kind, direction)
            if field_name in within:  # this method's own rules for that object, on its canonical side
                extra = self.object_fn(within[field_name], {}, direction)
                fn = _compose(extra, fn) if direction == "up" else _compose(fn, extra)
            if fn is not identity:
                child_fns[field_name] = fn
        for field_name, extra_rules in within.items():  # a field of a typed result: its type did the rest
            if field_name not in children:
                fn = self.object_fn(extra_rules, {}, direction)
                if fn is not identity:
                    child_fns[field_name] = fn
        drop = frozenset(rules.get("drop", ()))
        keep = frozenset(rules["keep"]) if rules.get("keep") is not None else None
        fill = dict(rules.get("fill", {}))
        conv = {f: getattr(CONVERTERS[c], direction) for f, c in rules.get("values", {}).items()}
        enum = rules.get("enum", {})
        if direction == "up":
            enums = {f: dict(m) for f, m in enum.items()}
        else:
            enums = {f: {c: dv for dv, c in m.items()} for f, m in enum.items()}
        whole = CONVERTERS[rules["convert"]] if rules.get("convert") else None
        if direction == "up":
            if not (child_fns or rename_up or conv or enums):  # `drop` and `fill` apply going down only
                up = identity
            else:
                up = _object_up(rename_up, child_fns, conv, enums)
            return _compose(_per_object(whole.up), up) if whole else up
        if not (child_fns or rename_up or drop or fill or conv or enums or keep is not None):
            down = identity
        else:
            rename_down = {c: dn for dn, c in rename_up.items()}
            down = _object_down(rename_down, drop, fill, child_fns, conv, enums)
        if whole:
            down = _compose(down, _per_object(whole.down))
        return down if keep is None else _keeping(keep, down)


def _per_object(convert: Callable[[Any], Any]) -> Transform:
    """A whole-object converter, on an object or on each object of a list."""

    def each(value: Any) -> Any:
        if isinstance(value, list):
            return [convert(v) if isinstance(v, dict) else v for v in value]
        return convert(value) if isinstance(value, dict) else value

    return each


# An object's rules are compiled into one plan: {field: what happens to it}. A field that
# no rule names is copied with one dict lookup; the others are handled as the rules say,
# in this order: going up enum, converter, rename, then the renamed field's child type;
# going down drop, the field's child type, rename, then converter and enum of the new name.
_DROP = object()


def _object_up(rename: dict, children: dict, conv: dict, enums: dict) -> Transform:
    plan: dict[str, tuple[dict | None, Callable | None, str, Transform | None]] = {}
    for key in {*enums, *conv, *rename, *children}:
        new_key = rename.get(key, key)
        plan[key] = (enums.get(key), conv.get(key), new_key, children.get(new_key))

    def up(value: Any) -> Any:
        if isinstance(value, list):
            return [up(v) for v in value]
        if not isinstance(value, dict):
            return value
        out = {}
        for key, v in value.items():
            step = plan.get(key)
            if step is None:
                out[key] = v
                continue
            enum, convert, key, child = step
            if enum is not None and isinstance(v, str):
                v = enum.get(v, v)
            if convert is not None:
                v = convert(v)
            if child is not None:
                v = child(v)
            out[key] = v
        return out

    return up


def _keeping(keep: frozenset, down: Transform) -> Transform:
    """`keep:` this dialect's fields only (after the other rules)."""

    def keeping(value: Any) -> Any:
        value = down(value)
        if isinstance(value, list):
            return [{k: v for k, v in item.items() if k in keep} if isinstance(item, dict) else item for item in value]
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if k in keep}
        return value

    return keeping


def _object_down(rename: dict, drop: frozenset, fill: dict, children: dict, conv: dict, enums: dict) -> Transform:
    plan: dict[str, Any] = {}
    for key in {*children, *rename, *conv, *enums}:  # a field not renamed keeps its name: conv/enum by it
        new_key = rename.get(key, key)
        plan[key] = (children.get(key), new_key, conv.get(new_key), enums.get(new_key))
    for key in drop:
        plan[key] = _DROP
    fill_items = tuple(fill.items())

    def down(value: Any) -> Any:
        if isinstance(value, list):
            return [down(v) for v in value]
        if not isinstance(value, dict):
            return value
        out = {}
        for key, v in value.items():
            step = plan.get(key)
            if step is None:
                out[key] = v
                continue
            if step is _DROP:
                continue
            child, key, convert, enum = step
            if child is not None:
                v = child(v)
            if convert is not None:
                v = convert(v)
            if enum is not None and isinstance(v, str):
                v = enum.get(v, v)
            out[key] = v
        for key, v in fill_items:
            if key not in out:
                out[key] = v
        return out

    return down
