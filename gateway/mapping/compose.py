"""Composed calls: a canonical answer made of several canonical calls, compiled from the YAML.

A composition (canonical.yaml `composed:`) answers a canonical method on a backend that lacks it with
other canonical methods that backend has; `before:` steps (dialect files) make calls that a server
made itself, or needs, before the call proper. Both are lists of `Step`s. The templates that build each
step's arguments and the final answer are compiled here into small functions of a `Context`: the
call's canonical arguments and the answers of the steps so far. Sending is the pipeline's business
(gateway/composed.py); nothing here does I/O.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from .converters import CONVERTERS

OMITTED: Any = type("Omitted", (), {"__repr__": lambda self: "<omitted>", "__bool__": lambda self: False})()
_REF = re.compile(r"^\$([A-Za-z_]\w*)((?:\.\w+)*)(\??)$")  # $name, $step.field, with `?`: null when omitted
_IN_TEXT = re.compile(r"\{(\$[A-Za-z_]\w*(?:\.\w+)*)\}")  # "Updated pull request `{$pullrequestid}`"
_OPERATORS = {"first", "any", "all", "not", "if"}


@dataclass
class Context:
    args: dict[str, Any]  # the call's canonical arguments
    answers: dict[str, Any] = field(default_factory=dict)  # step name -> its canonical answer
    each: Any = OMITTED


Template = Callable[[Context], Any]


def compile_template(value: Any, names: set[str], where: str) -> Template:
    """A function of the context; `names`: the step names a `$ref` may use besides the call's arguments.

    `$name` / `$step.field`: a value (left out where the call or the step did not give it; with a
    trailing `?`, null instead); "text {$ref} text": a string; {convert: C, value: T, with: {...}}: a
    converter; {first: [T, ...]}: the first value given and not null; {any: [...]}, {all: [...]},
    {not: T}: truth values; {if: [CONDITION, THEN, ELSE]}: THEN where CONDITION is true, else ELSE;
    anything else: itself."""
    if isinstance(value, str) and value.startswith("$"):
        m = _REF.match(value)
        if not m:
            raise TemplateError(where, f"`{value}` is not a reference ($name, $name.field, $name?)")
        head, path, nullable = m.group(1), [p for p in m.group(2).split(".") if p], bool(m.group(3))
        if head == "each":
            get: Template = lambda ctx: ctx.each  # noqa: E731
        elif head in names:
            get = lambda ctx: _dig(ctx.answers.get(head, OMITTED), path)  # noqa: E731
        else:
            get = lambda ctx: _dig(ctx.args.get(head, OMITTED), path)  # noqa: E731
        if nullable:
            return lambda ctx: None if (v := get(ctx)) is OMITTED else v
        return get
    if isinstance(value, str) and _IN_TEXT.search(value):
        refs = [(m.group(0), compile_template(m.group(1), names, where)) for m in _IN_TEXT.finditer(value)]

        def text(ctx: Context) -> str:
            out = value
            for token, ref in refs:
                got = ref(ctx)
                out = out.replace(token, "" if got is OMITTED or got is None else str(got))
            return out

        return text
    if isinstance(value, dict) and "convert" in value:
        return _compile_convert(value, names, where)
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _OPERATORS:
        return _compile_operator(value, names, where)
    if isinstance(value, dict):
        parts = {k: compile_template(v, names, f"{where}.{k}") for k, v in value.items()}
        return lambda ctx: {k: v for k, v in ((k, f(ctx)) for k, f in parts.items()) if v is not OMITTED}
    if isinstance(value, list):
        items = [compile_template(v, names, f"{where}[{i}]") for i, v in enumerate(value)]
        return lambda ctx: [v for v in (f(ctx) for f in items) if v is not OMITTED]
    return lambda ctx: value


def _compile_convert(spec: dict, names: set[str], where: str) -> Template:
    """{convert: NAME, value: T, direction: up|down, with: {param: T}}: a converter of converters.py."""
    unknown = set(spec) - {"convert", "value", "direction", "with"}
    if unknown:
        raise TemplateError(where, f"unknown keys {sorted(unknown)}: a conversion takes convert, value, direction, with")
    name = spec["convert"]
    if name not in CONVERTERS:
        raise TemplateError(f"{where}.convert", f"unknown converter `{name}`")
    direction = spec.get("direction", "up")
    if direction not in ("up", "down"):
        raise TemplateError(f"{where}.direction", "must be up or down")
    fn = getattr(CONVERTERS[name], direction)
    value = compile_template(spec.get("value"), names, f"{where}.value")
    params = {k: compile_template(v, names, f"{where}.with.{k}") for k, v in (spec.get("with") or {}).items()}

    def convert(ctx: Context) -> Any:
        kwargs = {k: v for k, v in ((k, f(ctx)) for k, f in params.items()) if v is not OMITTED}
        got = value(ctx)
        return fn(None if got is OMITTED else got, **kwargs) if kwargs else fn(None if got is OMITTED else got)

    return convert


def _compile_operator(spec: dict, names: set[str], where: str) -> Template:
    (op, arg), = spec.items()
    if op == "not":
        inner = compile_template(arg, names, f"{where}.not")
        return lambda ctx: not _truthy(inner(ctx))
    if not isinstance(arg, list):
        raise TemplateError(f"{where}.{op}", "takes a list")
    items = [compile_template(v, names, f"{where}.{op}[{i}]") for i, v in enumerate(arg)]
    if op == "if":
        if len(items) != 3:
            raise TemplateError(f"{where}.if", "takes [condition, then, else]")
        condition, then, otherwise = items
        return lambda ctx: then(ctx) if _truthy(condition(ctx)) else otherwise(ctx)
    if op == "first":
        def first(ctx: Context) -> Any:
            for f in items:
                v = f(ctx)
                if v is not OMITTED and v is not None:
                    return v
            return OMITTED
        return first
    if op == "any":
        return lambda ctx: any(_truthy(f(ctx)) for f in items)
    return lambda ctx: all(_truthy(f(ctx)) for f in items)


def _truthy(value: Any) -> bool:
    return value is not OMITTED and bool(value)


def _dig(value: Any, path: list[str]) -> Any:
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return OMITTED
        value = value[key]
    return value


class TemplateError(Exception):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where, self.message = where, message


# --------------------------------------------------------------------------- steps and compositions


@dataclass(frozen=True)
class Step:
    call: str  # canonical method
    args: Template
    name: str | None  # `as`
    when: Template | None
    each: Template | None  # a list of values; the step runs once per item
    arg_spec: dict[str, Any]  # the args as written, for --explain
    unless_found: "Step | None" = None  # a read made first; the step is made only where it fails

    def items(self, ctx: Context) -> list[Any]:
        if self.when is not None and not _truthy(self.when(ctx)):
            return []
        return list(self.each(ctx)) if self.each is not None else [OMITTED]


@dataclass(frozen=True)
class Composition:
    method: str  # the canonical method it answers
    about: str
    takes: frozenset[str] | None
    steps: tuple[Step, ...]
    result: Template | None  # None: `before` steps, the call proper answers

    @property
    def calls(self) -> tuple[str, ...]:
        return tuple(s.call for s in self.steps)


def compile_steps(specs: list[dict], arg_names: set[str], where: str) -> tuple[Step, ...]:
    steps, names = [], set()
    for i, spec in enumerate(specs):
        here = f"{where}[{i}]"
        each = None
        if spec.get("each"):
            m = re.fullmatch(r"parents\((\$\w+)\)", spec["each"])
            if not m:
                raise TemplateError(f"{here}.each", "only `parents($arg)` is known: each parent path of a path")
            path = compile_template(m.group(1), names, f"{here}.each")
            each = lambda ctx, path=path: _parents(path(ctx))  # noqa: E731
        check = None
        if spec.get("unless_found"):
            c = spec["unless_found"]
            check = Step(c["call"], compile_template(c["args"], names, f"{here}.unless_found.args"), None, None,
                         None, dict(c["args"]))
        steps.append(Step(spec["call"], compile_template(spec["args"], names, f"{here}.args"), spec.get("as_"),
                          compile_template(spec["when"], names, f"{here}.when") if "when" in spec else None,
                          each, dict(spec["args"]), check))
        if spec.get("as_"):
            names.add(spec["as_"])
    return tuple(steps)


def compile_composition(method: str, spec: dict, arg_names: set[str]) -> Composition:
    where = f"composed.{method}"
    steps = compile_steps(spec["steps"], arg_names, f"{where}.steps")
    names = {s.name for s in steps if s.name}
    takes = frozenset(spec["takes"]) if spec.get("takes") is not None else None
    return Composition(method, spec.get("about", ""), takes, steps, compile_template(spec["result"], names,
                                                                                      f"{where}.result"))


def _parents(path: Any) -> list[str]:
    """"a/b/c" -> ["a", "a/b"]: the groups a path lies in, outermost first."""
    if not isinstance(path, str):
        return []
    parts = [p for p in path.split("/") if p]
    return ["/".join(parts[:i]) for i in range(1, len(parts))]
