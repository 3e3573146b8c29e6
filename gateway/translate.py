"""`rcgate translate`: an offline dry run of one call, or one answer, through the mappings.

The outputs come from the gateway's own compiled functions (`Inbound.to_canonical`,
`Outbound.args_down`, `Outbound.result_up`, `Inbound.result_down`) and from the
same helpers `gateway.app` uses to pick methods and word errors, so a dry run
answers what the gateway would do. The explanation only *describes* it: it walks
the validated spec (`Mappings.spec`) alongside and names, for every rule that
applies, the file and key that declare it.

Nothing is sent anywhere. The key is never printed (`<redacted>`). A `fetch:` rule
(one more backend read) is not performed: the field stays null, as when that read
fails, unless the caller of `translate_response` passes the backend's answer.
"""
from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import app as _app
from . import envelope, jsoncodec
from .dialects import DialectDetector
from .errors import RpcError
from .mapping.converters import CONVERTERS
from .mapping.engine import Dialect, Mappings, compile_mappings
from .mapping.loader import load_mappings

if TYPE_CHECKING:
    from .config import Config

REDACTED = "<redacted>"
BACKEND_CALL_ID = 1  # the id of the gateway's first call to its backend
DEFAULT_FALLBACK = "kallithea"  # config.yaml's default for inbound.fallback


@functools.lru_cache(maxsize=8)
def load(directory: str | Path = "mappings") -> Mappings:
    """Load and compile a mapping directory once (a bad file raises `MappingError`)."""
    return compile_mappings(load_mappings(Path(directory)))


# --------------------------------------------------------------------------- requests


def translate_request(
    body: bytes | str | dict[str, Any],
    *,
    dialect: str,
    backend: str,
    mappings: Mappings,
    fallback: str = DEFAULT_FALLBACK,
) -> dict[str, Any]:
    """One caller request through the pipeline, up to the backend call (not sent).

    `dialect` is the caller's dialect, or `auto` to detect it as /_admin/api does
    (with `fallback`). Returns a dict: ok, dialect, backend, method, canonical
    ({method, args}), backend_call (the JSON-RPC body the backend would get, key
    redacted), error (None, or {code, text, body, raw}: the answer the caller
    would get) and explain (a list of {rule, where, text}).
    """
    ex, caller, target, out = _setup(mappings, dialect, fallback, backend, method=None, canonical=None, backend_call=None)
    request_id: Any = None
    try:
        payload = body if isinstance(body, dict) else envelope.decode(_as_bytes(body))
        if dialect == "auto":
            caller = _detect(ex, out, mappings, fallback, payload)
        request_id = payload.get("id")
        call = envelope.read_call(payload, caller)
        spelled = caller.version_spelled_by(call.method, call.args) if caller.versions else None
        if spelled is not None:  # as /_admin/api: a 1.3 spelling is a 1.3 script, answered in 1.3's shapes
            caller = mappings.dialects[spelled]
            out["dialect"] = caller.name
            version = spelled.partition("@")[2]
            ex.add("dialect", ex.file(caller.name), f"versions.{version}.spellings.{call.method}",
                   f"the call uses an argument spelling of {spelled}: answered in that version's shapes (its "
                   f"rules under versions.{version} replace the file's same rules)")
        key_field = next(f for f in caller.envelope.key_fields if payload.get(f))
        ex.add("key", ex.file(caller.name), "envelope.key_fields", f"key read from `{key_field}`")
        out["method"] = call.method
        if target is caller:
            _explain_same_dialect(ex, mappings, caller, call.method)
        else:
            _explain_caller_method(ex, mappings, caller.name, call.method)
            if call.method in caller.inbound and not caller.inbound[call.method].unsupported:
                _explain_args_up(ex, mappings, caller, call.method, call.args)
            inbound = _app.find_inbound(caller, call.method)  # the canonical call, also when the backend refuses it
            out["canonical"] = {"method": inbound.canonical, "args": inbound.to_canonical(copy.deepcopy(call.args))}
            entry = _explain_backend_method(ex, mappings, backend, inbound.canonical)
        plan = _app.plan_call(caller, target, call.method, copy.deepcopy(call.args))
        if plan.canonical_method is not None:
            out["canonical"] = {"method": plan.canonical_method, "args": plan.canonical_args}
        send_key_as = target.envelope.send_key_as
        if plan.outbound is not None:
            steps = _explain_steps(ex, mappings, caller, target, plan)
            if plan.outbound.composed is None:
                _explain_args_down(ex, mappings, backend, entry, plan.canonical_method, plan.canonical_args)
                steps.append({"method": plan.backend_method, "args": plan.backend_args})
            if len(steps) > 1 or plan.outbound.composed is not None:
                out["backend_calls"] = [{"id": BACKEND_CALL_ID + i, send_key_as: REDACTED, **c}
                                        for i, c in enumerate(steps)]
        out["backend_call"] = {"id": BACKEND_CALL_ID, send_key_as: REDACTED, "method": plan.backend_method,
                               "args": plan.backend_args}
        ex.add("key", ex.file(backend), "envelope.send_key_as", f"key sent to the backend as `{send_key_as}`")
        out["ok"] = True
    except RpcError as exc:
        out["error"] = _caller_error(ex, caller, exc, request_id)
    except Exception as exc:  # as gateway.app: a bug still answers in the caller's dialect
        out["error"] = _caller_error(ex, caller, RpcError("internal_error"), request_id, note=type(exc).__name__)
    return out


def _explain_steps(ex: "_Explain", mappings: Mappings, caller: Dialect, target: Dialect, plan: Any) -> list[dict]:
    """Every backend call of a composed method, or of `before:` steps, with the arguments known offline
    (a value that comes from an earlier step's answer is shown as its reference)."""
    from .mapping.compose import OMITTED, Context

    out: list[dict] = []
    groups = [("before", caller.name, f"methods.{plan.inbound.name}.before", plan.inbound.before),
              ("before", target.name, f"methods.{plan.outbound.method}.before", plan.outbound.before)]
    comp = plan.outbound.composed
    if comp is not None:
        ex.add("composed", ex.file("canonical"), f"composed.{comp.method}",
               f"{target.name} has no `{comp.method}`: answered with {', '.join(comp.calls)} ({comp.about})")
        groups.append(("step", "canonical", f"composed.{comp.method}.steps", comp.steps))
    ctx = Context(dict(plan.canonical_args))
    names: set[str] = set()
    for rule, file, key, steps in groups:
        for i, step in enumerate(steps):
            outbound = target.outbound.get(step.call)
            method = outbound.method if outbound is not None else step.call
            items = step.each(Context(ctx.args)) if step.each is not None else [OMITTED]
            if step.each is not None and not items:
                ex.add(rule, ex.file(file), f"{key}[{i}]", f"no backend call {method}: the path has no parent group")
            for item in items:
                here = Context(ctx.args, each=item)
                shown = {}
                for arg, raw in step.arg_spec.items():
                    if _mentions(raw, names):
                        shown[arg] = f"<{raw if isinstance(raw, str) else 'computed from an earlier answer'}>"
                        continue
                    try:
                        value = step.args(here).get(arg, OMITTED)
                    except Exception:  # a converter fed nothing offline
                        value = OMITTED
                    if value is not OMITTED:
                        shown[arg] = value
                if outbound is not None and not any(isinstance(v, str) and v.startswith("<") for v in shown.values()):
                    try:
                        shown = outbound.args_down(dict(shown))  # as the backend receives it
                    except RpcError:
                        pass
                how = "when its condition holds" if step.when is not None else ""
                ok = f"; only if {step.unless_found.call} {_short(step.unless_found.args(here))} fails" \
                    if step.unless_found is not None else ""
                ex.add(rule, ex.file(file), f"{key}[{i}]",
                       f"backend call {method} {_short(shown)}{' ' + how if how else ''}{ok}"
                       + (f" (answer kept as `{step.name}`)" if step.name else ""))
                out.append({"method": method, "args": shown})
            if step.name:
                names.add(step.name)
    return out


def _mentions(raw: Any, names: set[str]) -> bool:
    if isinstance(raw, str):
        return any(raw.startswith(f"${n}") or f"{{${n}" in raw for n in names)
    if isinstance(raw, dict):
        return any(_mentions(v, names) for v in raw.values())
    if isinstance(raw, list):
        return any(_mentions(v, names) for v in raw)
    return False


def route_request(body: bytes | str, *, dialect: str, config: "Config", mappings: Mappings) -> dict[str, Any]:
    """Which backend the config's routes choose for a request: {backend, dialect, index, why, credentials}.

    Reads the request as the gateway does (dialect detection, the canonical call a rule
    may look at). A request the gateway would refuse before routing goes to the default
    route here, so that `translate_request` can show the refusal in the caller's words.
    """
    from .audit import key_fingerprint
    from .routing import NumericRepoId, Router

    router = Router(config.route_list(), config.callers, mappings.canonical, config.numeric_repo_ids)
    backends = {b.name: b for b in config.backend_list()}
    fallback = config.fallback_dialect
    try:
        payload = envelope.decode(_as_bytes(body))
        caller = mappings.dialects[DialectDetector(mappings, fallback).detect(payload) if dialect == "auto" else dialect]
        call = envelope.read_call(payload, caller)
        fingerprint = key_fingerprint(call.key)
        inbound = caller.inbound.get(call.method)
        inbound = inbound if inbound is not None and not inbound.unsupported else None
        route = router.choose(caller.name, inbound.canonical if inbound else None, call.method, fingerprint,
                              lambda: inbound.to_canonical(copy.deepcopy(call.args), strict=False))
        why = route.reason
        listed = mappings.canonical[inbound.canonical].lists if inbound else None
        owners = router.candidates(caller.name, inbound.canonical, fingerprint) if listed else ()
        if len(owners) > 1:
            why = (f"a list of {listed[0].replace('_', ' ')}s: backends {', '.join(owners)} are all asked, and each "
                   f"entry is kept from the backend the routes send it to (shown: {route.backend})")
    except (RpcError, NumericRepoId) as exc:
        route = router.choose("", None, "", None, dict) if router.trivial else None
        last = config.route_list()[-1]
        why = f"not routed ({type(exc).__name__}): the default route shows the refusal"
        route_backend, index = (route.backend, route.index) if route else (last.backend, last.index)
        b = backends[route_backend]
        return {"backend": b.name, "dialect": b.dialect, "index": index, "why": why,
                "credentials": b.credentials is not None, "unmapped": b.unmapped}
    b = backends[route.backend]
    return {"backend": b.name, "dialect": b.dialect, "index": route.index, "why": why,
            "credentials": b.credentials is not None, "unmapped": b.unmapped}


def explain_route(result: dict[str, Any], routed: dict[str, Any], config_file: str) -> None:
    """Put the route (and the credential map, never a key or a hash) first in a translate_request result."""
    where = f"{config_file}: routes[{routed['index']}]" if routed["index"] >= 0 else f"{config_file}: numeric_repo_ids"
    steps = [{"rule": "route", "where": where,
              "text": f"backend `{routed['backend']}` ({routed['dialect']}): {routed['why']}"}]
    if routed["credentials"]:
        steps.append({"rule": "credentials", "where": f"{config_file}: backends.{routed['backend']}.credentials",
                      "text": f"the key sent is the one the credential map names for the caller's key "
                              f"(a key it does not name: {routed['unmapped']})"})
    result["explain"][:0] = steps
    result["route"] = {k: routed[k] for k in ("backend", "dialect", "index", "why")}


# --------------------------------------------------------------------------- answers


def translate_response(
    body: bytes | str | Any,
    *,
    method: str,
    dialect: str,
    backend: str,
    mappings: Mappings,
    fallback: str = DEFAULT_FALLBACK,
    request_id: Any = None,
    fetched: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A backend's answer to the caller's `method`, up to canonical and down to the caller.

    `body` is the backend's JSON-RPC response ({id, result, error}) or a bare
    result; bytes and str are parsed as JSON, anything else is taken as already
    parsed. `fetched` optionally gives, by canonical method, the backend's result
    for a `fetch:` read (offline it is not performed: the field stays null).
    Returns a dict: ok, dialect, backend, method, canonical_result, result (what
    the caller gets), error (as in `translate_request`) and explain.
    """
    ex, caller, target, out = _setup(mappings, dialect, fallback, backend, method=method, canonical_result=None,
                                     result=None)
    try:
        if dialect == "auto":
            caller = _detect(ex, out, mappings, fallback, {"method": method})
        if target is caller:
            _explain_same_dialect(ex, mappings, caller, method)
            plan = _app.plan_call(caller, target, method, {})  # refuses as the gateway would
            result, error, kind = _parse_answer(body)
            ex.add("answer", "-", "-", "input read as a JSON-RPC response" if kind == "response" else "input read as a bare result")
            if error is not None:
                _explain_backend_error(ex, caller, target, error)
                raise RpcError("backend_error", error)  # untouched, even a 4.x {field: message} object
            known = plan.inbound is not None and plan.canonical_method in target.outbound
            out["canonical_result"] = target.outbound[plan.canonical_method].result_up(copy.deepcopy(result)) if known else None
            out["result"] = result
            out["ok"] = True
            return out
        _explain_caller_method(ex, mappings, caller.name, method)
        inbound = _app.find_inbound(caller, method)
        entry = _explain_backend_method(ex, mappings, backend, inbound.canonical)
        outbound = _app.find_outbound(target, inbound)
        result, error, kind = _parse_answer(body)
        ex.add("answer", "-", "-", "input read as a JSON-RPC response" if kind == "response" else "input read as a bare result")
        if error is not None:
            _explain_backend_error(ex, caller, target, error)
            raise _app.translated_error(error, target, caller, inbound)
        canonical = outbound.result_up(copy.deepcopy(result))
        _explain_result(ex, mappings, backend, entry, inbound.canonical, result, "up")
        for i, fetch in enumerate(inbound.fetches):
            if fetch.each is not None:  # one read per item
                items = fetch.items(canonical)
                value = _offline_fetch(mappings, target, fetch.method, fetched)
                for item in items:
                    if value is not None:
                        item[fetch.into] = fetch.fetched(copy.deepcopy(value))
                where = " and ".join(f"`{k}` is {_short(v)}" for k, v in fetch.where) or "every item"
                args = ", ".join(f"{a}=<the item's `{b}`>" for a, b in fetch.args.items())
                done = ("taken from `fetched` (the same answer for each)" if value is not None
                        else "not performed offline: left as it is, as when that read fails")
                ex.add("fetch", ex.file(caller.name), f"methods.{_primary(mappings, caller.name, method)}.result.fetch[{i}]",
                       f"`{fetch.each}[].{fetch.into}` where {where}: {len(items)} backend call(s) {fetch.method}({args}),"
                       f" at most {fetch.at_most}; {done}")
            elif isinstance(canonical, dict) and fetch.into not in canonical:
                value = _offline_fetch(mappings, target, fetch.method, fetched)
                canonical[fetch.into] = None if value is None else fetch.fetched(value)
                args = ", ".join(f"{a}=<the call's `{b}`>" for a, b in fetch.args.items())
                done = "taken from `fetched`" if fetched and fetch.method in fetched else "not performed offline: null, as when that read fails"
                primary = _primary(mappings, caller.name, method)
                ex.add("fetch", ex.file(caller.name), f"methods.{primary}.result.fetch[{i}]",
                       f"`{fetch.into}` filled by one more backend call {fetch.method}({args}); {done}")
        out["canonical_result"] = copy.deepcopy(canonical)
        primary = _primary(mappings, caller.name, method)
        _explain_result(ex, mappings, caller.name, primary, inbound.canonical, canonical, "down")
        _explain_fetched_down(ex, mappings, caller.name, primary, inbound.fetches, canonical)
        out["result"] = inbound.result_down(canonical)
        out["ok"] = True
    except RpcError as exc:
        out["error"] = _caller_error(ex, caller, exc, request_id)
    except Exception as exc:
        out["error"] = _caller_error(ex, caller, RpcError("internal_error"), request_id, note=type(exc).__name__)
    return out


def _setup(mappings: Mappings, dialect: str, fallback: str, backend: str,
           **fields: Any) -> tuple["_Explain", Dialect, Dialect, dict[str, Any]]:
    """What both directions start with: the explanation, caller (the fallback until `auto` has detected
    it) and backend dialects, the result dict."""
    ex = _Explain(mappings)
    caller = mappings.dialects[fallback if dialect == "auto" else dialect]
    target = mappings.dialects[backend]
    out = {"ok": False, "dialect": caller.name, "backend": backend, **fields, "error": None, "explain": ex.steps}
    return ex, caller, target, out


def _detect(ex: "_Explain", out: dict[str, Any], mappings: Mappings, fallback: str, payload: dict[str, Any]) -> Dialect:
    """The caller's dialect as /_admin/api would detect it."""
    caller = mappings.dialects[DialectDetector(mappings, fallback).detect(payload)]
    out["dialect"] = caller.name
    ex.add("dialect", "gateway/dialects.py", "DialectDetector", f"caller detected as {caller.name} (fallback: {fallback})")
    return caller


def _parse_answer(body: Any) -> tuple[Any, Any, str]:
    if isinstance(body, (bytes, str)):
        raw = body.encode("utf-8") if isinstance(body, str) else body
        try:
            value = jsoncodec.loads(raw)
        except (ValueError, RecursionError):  # what the gateway's backend client reports
            raise RpcError("backend_unavailable", reason=f"answer is not JSON (HTTP 200, {len(raw)} bytes)") from None
    else:
        value = body
    if isinstance(value, dict) and ("result" in value or "error" in value) and set(value) <= {"id", "result", "error"}:
        return value.get("result"), value.get("error"), "response"
    return value, None, "bare"


def _offline_fetch(mappings: Mappings, target: Dialect, method: str, fetched: dict[str, Any] | None) -> Any:
    outbound = target.outbound.get(method)
    if not fetched or method not in fetched or outbound is None or outbound.unsupported:
        return None
    return outbound.result_up(copy.deepcopy(fetched[method]))


# --------------------------------------------------------------------------- errors


_KEY_IN_TEXT = re.compile(r"""(["']?(?:api_key|auth_token)["']?\s*:\s*["'])([^"'\\]*)""")


def _caller_error(ex: "_Explain", dialect: Dialect, exc: RpcError, request_id: Any, note: str | None = None) -> dict[str, Any]:
    """The JSON-RPC error body the caller would get, exactly as gateway.app renders it."""
    if exc.text is not None:
        text = exc.text
    else:
        text = dialect.errors.render(exc.code, _app.with_similar(exc, dialect))
        template = exc.code if exc.code in dialect.errors.templates else "internal_error"
        ex.add("error", ex.file(dialect.name), f"errors.{template}", f"refused ({exc.code}{', ' + note if note else ''})")
    if isinstance(text, str):  # parse errors quote the body back
        text = _KEY_IN_TEXT.sub(lambda m: m.group(1) + REDACTED, text)
    raw = envelope.render(dialect, request_id if exc.echo_id else None, error=text)
    return {"code": exc.code, "text": text, "body": json.loads(raw), "raw": raw.decode("utf-8")}


def _explain_backend_error(ex: "_Explain", caller: Dialect, backend: Dialect, error: Any) -> None:
    text = error if isinstance(error, str) else _app.flatten_error(error)
    if backend is caller:
        ex.add("error", ex.file(backend.name), "errors", "the backend's error text reaches the caller unchanged (same dialect)")
        return
    parsed = backend.errors.parse(text)
    if parsed and parsed[0] in caller.errors.templates:
        ex.add("error", ex.file(backend.name), f"errors.{parsed[0]}", f"the backend's error text matches `{parsed[0]}`")
        ex.add("error", ex.file(caller.name), f"errors.{parsed[0]}", "reworded in the caller's dialect")
    else:
        ex.add("error", ex.file(backend.name), "errors", "no error text of both dialects matches: the caller gets the backend's text unchanged")


# --------------------------------------------------------------------------- explanation


class _Explain:
    def __init__(self, mappings: Mappings) -> None:
        self.directory = mappings.spec.directory
        self.steps: list[dict[str, str]] = []

    def file(self, name: str) -> str:
        return str(self.directory / f"{name.partition('@')[0]}.yaml")  # a version lives in its dialect's file

    def add(self, rule: str, file: str, key: str, text: str) -> None:
        where = f"{file}: {key}" if file != "-" else "-"
        self.steps.append({"rule": rule, "where": where, "text": text})


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _primary(mappings: Mappings, dialect: str, method: str) -> str:
    rules = mappings.spec.dialects[dialect]["methods"][method]
    return rules.get("alias_of", method)


def _explain_same_dialect(ex: _Explain, mappings: Mappings, dialect: Dialect, method: str) -> None:
    file = ex.file(dialect.name)
    if method not in dialect.inbound and dialect.envelope.unknown_methods == "forward":
        ex.add("same_dialect", file, "envelope.unknown_methods",
               f"`{method}` is not in this file; caller and backend both speak {dialect.name}: forwarded as sent, the server answers")
        return
    _explain_caller_method(ex, mappings, dialect.name, method)
    if method in dialect.inbound and not dialect.inbound[method].unsupported:
        ex.add("same_dialect", file, "dialect", f"caller and backend both speak {dialect.name}: every argument reaches the "
               "server as sent (older spellings renamed), and the answer reaches the caller untouched")


def _explain_caller_method(ex: _Explain, mappings: Mappings, dialect: str, method: str) -> None:
    methods = mappings.spec.dialects[dialect]["methods"]
    file = ex.file(dialect)
    rules = methods.get(method)
    if rules is None:
        ex.add("method", file, "methods", f"`{method}` is not in this file: no such {dialect} method")
        return
    name = method
    if "alias_of" in rules:
        name = rules["alias_of"]
        ex.add("alias_of", file, f"methods.{method}.alias_of", f"`{method}` is a second name of `{name}`")
        rules = methods[name]
    cname = rules.get("canonical", name)
    if "unsupported" in rules:
        ex.add("unsupported", file, f"methods.{name}.unsupported", f"`{name}` is unsupported: {rules['unsupported']}")
    elif "canonical" in rules:
        ex.add("method", file, f"methods.{name}.canonical", f"method `{name}` -> canonical `{cname}`")
    else:
        ex.add("method", file, f"methods.{name}", f"method `{name}` -> canonical `{cname}` (same name)")


def _explain_args_up(ex: _Explain, mappings: Mappings, dialect: Dialect, method: str, args: dict[str, Any]) -> None:
    """Describe `Inbound.to_canonical`, argument by argument, in the same order."""
    name = _primary(mappings, dialect.name, method)
    rules = mappings.spec.dialects[dialect.name]["methods"][name]
    cname = rules.get("canonical", name)
    cspec = mappings.spec.canonical["methods"][cname]["args"]
    file, cfile, where = ex.file(dialect.name), ex.file("canonical"), f"methods.{name}"
    rename, aliases, absent, values = rules["args"], rules["aliases"], set(rules["absent"]), rules["values"]
    reject = dialect.envelope.unknown_args == "reject"
    seen: dict[str, str] = {}  # canonical arg -> the name it was given as
    for given, value in args.items():
        dialect_arg = aliases.get(given, given)
        if given in aliases:
            ex.add("alias", file, f"{where}.aliases.{given}", f"`{given}` is an older spelling of `{dialect_arg}`")
        canonical_arg = rename.get(dialect_arg, dialect_arg)
        if canonical_arg not in cspec or canonical_arg in absent:
            if canonical_arg in absent:
                ex.add("absent", file, f"{where}.absent", f"`{given}`: {dialect.name} has no `{canonical_arg}` here, so it is unknown")
            else:
                ex.add("unknown_arg", cfile, f"methods.{cname}.args", f"`{given}` is no argument of `{cname}`")
            ex.add("unknown_arg", file, "envelope.unknown_args", f"unknown argument `{given}` {'refused' if reject else 'dropped'}")
            continue
        if given in aliases and canonical_arg in seen:
            ex.add("alias", file, f"{where}.aliases.{given}", f"`{given}` ignored: `{seen[canonical_arg]}` was given too")
            continue
        if canonical_arg in seen and seen[canonical_arg] != given:
            ex.add("alias", file, f"{where}.aliases.{seen[canonical_arg]}", f"`{given}` replaces the older spelling `{seen[canonical_arg]}`")
        seen[canonical_arg] = given
        if dialect_arg in rename:
            ex.add("rename", file, f"{where}.args.{dialect_arg}", f"`{dialect_arg}` -> canonical `{canonical_arg}`")
        else:
            ex.add("arg", cfile, f"methods.{cname}.args.{canonical_arg}", f"`{canonical_arg}` passes under its own name ({_kind(cspec[canonical_arg])})")
        if dialect_arg in values:
            converter = values[dialect_arg]
            new = CONVERTERS[converter].up(value)
            ex.add("converter", file, f"{where}.values.{dialect_arg}", f"`{dialect_arg}` converted by `{converter}`: {_short(value)} -> {_short(new)}")
    rename_down = {c: d for d, c in rename.items()}
    for arg, spec in cspec.items():
        if spec["kind"] == "required" and arg not in seen:
            ex.add("missing_arg", cfile, f"methods.{cname}.args.{arg}", f"required `{rename_down.get(arg, arg)}` is missing")


def _kind(spec: dict[str, Any]) -> str:
    return f"default {_short(spec['default'])}" if spec["kind"] == "default" else spec["kind"]


def _backend_entry(mappings: Mappings, backend: str, canonical: str) -> str | None:
    """The backend file's method that serves a canonical one: the first in file order, as the compiler picks."""
    for name, rules in mappings.spec.dialects[backend]["methods"].items():
        if "alias_of" not in rules and rules.get("canonical", name) == canonical:
            return name
    return None


def _explain_backend_method(ex: _Explain, mappings: Mappings, backend: str, canonical: str) -> str | None:
    entry = _backend_entry(mappings, backend, canonical)
    file = ex.file(backend)
    served = mappings.dialects[backend].outbound.get(canonical)
    if served is not None and served.composed is not None:
        return None  # answered by other methods: the steps are explained with the backend call
    if entry is None:
        ex.add("backend_method", file, "methods", f"no method of this file maps canonical `{canonical}`: refused")
        return None
    rules = mappings.spec.dialects[backend]["methods"][entry]
    if "unsupported" in rules:
        ex.add("unsupported", file, f"methods.{entry}.unsupported", f"the {backend} backend cannot serve `{canonical}`: {rules['unsupported']}")
    else:
        key = f"methods.{entry}.canonical" if "canonical" in rules else f"methods.{entry}"
        ex.add("backend_method", file, key, f"backend method `{entry}`")
    return entry


def _explain_args_down(ex: _Explain, mappings: Mappings, backend: str, entry: str | None, canonical: str, args: dict[str, Any]) -> None:
    """Describe `Outbound.args_down` in the same order."""
    if entry is None:
        return
    rules = mappings.spec.dialects[backend]["methods"][entry]
    cmethod = mappings.canonical[canonical]
    file, where = ex.file(backend), f"methods.{entry}"
    absent, values = set(rules["absent"]), rules["values"]
    rename_down = {c: d for d, c in rules["args"].items()}
    for arg, value in args.items():
        if arg in absent:
            if arg in cmethod.defaults and value == cmethod.defaults[arg]:
                ex.add("absent", file, f"{where}.absent",
                       f"`{arg}` left out: {backend} has no such argument and {_short(value)} is the canonical default")
                continue
            if arg in rules["always"] and value == rules["always"][arg]:
                ex.add("always", file, f"{where}.always.{arg}",
                       f"`{arg}` left out: {backend} has no such argument and always behaves as {_short(value)}")
                continue
            ex.add("absent", file, f"{where}.absent", f"`{arg}` = {_short(value)} refused: {backend} has no such argument")
            return
        dialect_arg = rename_down.get(arg, arg)
        if dialect_arg != arg:
            ex.add("rename", file, f"{where}.args.{dialect_arg}", f"canonical `{arg}` -> `{dialect_arg}`")
        if dialect_arg in values:
            converter = values[dialect_arg]
            new = CONVERTERS[converter].down(value)
            ex.add("converter", file, f"{where}.values.{dialect_arg}", f"`{dialect_arg}` converted by `{converter}`: {_short(value)} -> {_short(new)}")


def _explain_result(
    ex: _Explain, mappings: Mappings, dialect: str, entry: str | None, canonical: str, value: Any, direction: str, root: str = "result"
) -> None:
    """Describe `Outbound.result_up` (direction up, on the backend's answer) or
    `Inbound.result_down` (down, on the canonical answer): which result and object
    rules fire where. Same traversal order as the compiled functions."""
    if entry is None:
        return
    spec = mappings.spec.dialects[dialect]
    file = ex.file(dialect)
    tree = mappings.spec.canonical["objects"]
    shape = mappings.spec.canonical["methods"][canonical]["result"]
    top = spec["methods"][entry]["result"]
    top_where = f"methods.{entry}.result"
    events: dict[tuple[str, str, str], list[str]] = {}

    def event(rule: str, key: str, text: str, path: str) -> None:
        events.setdefault((rule, key, text), []).append(path)

    def child(kind: Any, v: Any, path: str) -> None:
        if isinstance(kind, str):
            walk(v, spec["objects"].get(kind, {}), f"objects.{kind}", tree.get(kind, {}), path)
        elif isinstance(kind, dict):
            walk(v, {}, "", kind, path)

    within = {top.get("rename", {}).get(f, f): (f, r) for f, r in top.get("within", {}).items()}  # by canonical field

    def walk(v: Any, rules: dict, where: str, children: dict, path: str) -> None:
        if isinstance(v, list):
            for item in v:
                walk(item, rules, where, children, f"{path}[]")
            return
        if not isinstance(v, dict):
            return
        if direction == "down" and rules.get("keep") is not None:
            for key in v:
                if key not in rules["keep"] and key not in {c for c in rules.get("rename", {}).values()}:
                    event("keep", f"{where}.keep", f"`{key}` left out: not a field this dialect has", path)
        rename, drop, fill = rules.get("rename", {}), set(rules.get("drop", ())), rules.get("fill", {})
        conv, enum = rules.get("values", {}), rules.get("enum", {})
        if direction == "up":
            for key, val in v.items():
                if key in enum and isinstance(val, str) and val in enum[key]:
                    event("enum", f"{where}.enum.{key}", f"`{key}`: {_short(val)} -> {_short(enum[key][val])}", path)
                    val = enum[key][val]
                if key in conv:
                    new = CONVERTERS[conv[key]].up(val)
                    event("converter", f"{where}.values.{key}", _conv_text(key, conv[key], val, new), path)
                    val = new
                if key in rename:
                    event("rename", f"{where}.rename.{key}", f"`{key}` -> canonical `{rename[key]}`", path)
                    key = rename[key]
                if key in children:
                    child(children[key], val, f"{path}.{key}")
            return
        rename_down = {c: d for d, c in rename.items()}
        enum_down = {f: {c: d for d, c in m.items()} for f, m in enum.items()}
        present = set()
        for key, val in v.items():
            if key in drop:
                event("drop", f"{where}.drop", f"`{key}` dropped", path)
                continue
            if key in children:
                if rules is top and key in within:  # this method's own rules for that object first
                    name, extra = within[key]
                    walk(val, extra, f"{top_where}.within.{name}", {}, f"{path}.{key}")
                    val = _rekey(val, extra, "down")
                child(children[key], val, f"{path}.{key}")
            if key in rename_down:
                event("rename", f"{where}.rename.{rename_down[key]}", f"canonical `{key}` -> `{rename_down[key]}`", path)
                key = rename_down[key]
            if key in conv:
                new = CONVERTERS[conv[key]].down(val)
                event("converter", f"{where}.values.{key}", _conv_text(key, conv[key], val, new), path)
                val = new
            if key in enum_down and isinstance(val, str) and val in enum_down[key]:
                event("enum", f"{where}.enum.{key}", f"`{key}`: {_short(val)} -> {_short(enum_down[key][val])}", path)
            present.add(key)
        for key, fv in fill.items():
            if key not in present:
                event("fill", f"{where}.fill.{key}", f"`{key}` added: {_short(fv)}", path)

    if top.get("convert"):
        event("converter", f"{top_where}.convert", f"the whole answer converted by `{top['convert']}`", root)
        value = None  # nothing else applies
    from_field = top.get("from_field")
    if value is None:
        pass
    elif direction == "up":
        if from_field and not isinstance(value, dict):
            event("from_field", f"{top_where}.from_field", f"the bare answer is taken as canonical `{from_field}`", root)
            value = {from_field: value}
        if isinstance(shape, dict):
            walk(value, top, top_where, shape, root)
        else:  # the method's own rules first, then the object type's (as the compiler composes them)
            walk(value, top, top_where, {}, root)
            child(shape, _rekey(value, top, "up"), root)
        if isinstance(value, dict):
            for key in top.get("extra", ()):
                if key in value:
                    event("extra", f"{top_where}.extra", f"`{key}` left out: the canonical answer has no such field", root)
            for key, fv in top.get("implied", {}).items():
                if key not in value:
                    event("implied", f"{top_where}.implied.{key}", f"canonical `{key}` added: {_short(fv)}", root)
    else:
        if isinstance(shape, dict):
            walk(value, top, top_where, shape, root)
        else:  # the object type's rules first, then the method's
            child(shape, value, root)
            walk(_rekey(value, spec["objects"].get(shape, {}) if shape else {}, "down"), top, top_where, {}, root)
        if from_field:
            event("from_field", f"{top_where}.from_field", f"the caller gets the bare value of `{from_field}`", root)

    for (rule, key, text), paths in events.items():
        where = sorted(set(paths), key=paths.index)
        count = f" ({len(paths)}x)" if len(paths) > 1 else ""
        ex.add(rule, file, key, f"{text} at {', '.join(where)}{count}")


def _explain_fetched_down(ex: _Explain, mappings: Mappings, dialect: str, primary: str, fetches: Any, canonical: Any) -> None:
    """A fetched field comes down as the answer of the caller's own method for that read."""
    if not isinstance(canonical, dict):
        return
    rename = mappings.spec.dialects[dialect]["methods"][primary]["result"]["rename"]
    for fetch in fetches:
        if fetch.each is not None:  # comes down inside each item, by the item's object type
            continue
        entry = None
        for name, rules in mappings.spec.dialects[dialect]["methods"].items():
            if "alias_of" not in rules and rules.get("canonical", name) == fetch.method:
                entry = name  # the last one, as the compiler's lookup by canonical name
        rules = mappings.spec.dialects[dialect]["methods"].get(entry or "", {})
        if entry is not None and "unsupported" not in rules and canonical.get(fetch.into) is not None:
            into = {c: d for d, c in rename.items()}.get(fetch.into, fetch.into)
            _explain_result(ex, mappings, dialect, entry, fetch.method, canonical[fetch.into], "down", f"result.{into}")


def _conv_text(field: str, converter: str, old: Any, new: Any) -> str:
    change = f"{_short(old)} -> {_short(new)}" if new != old else f"{_short(old)} unchanged"
    return f"`{field}` converted by `{converter}`: {change}"


def _rekey(value: Any, rules: dict, direction: str) -> Any:
    """The keys an object has after one level of rules, for describing the next level."""
    if isinstance(value, list):
        return [_rekey(v, rules, direction) for v in value]
    if not isinstance(value, dict):
        return value
    rename = rules.get("rename", {})
    if direction == "up":
        return {rename.get(k, k): v for k, v in value.items()}
    down, drop = {c: d for d, c in rename.items()}, set(rules.get("drop", ()))
    return {down.get(k, k): v for k, v in value.items() if k not in drop}


# --------------------------------------------------------------------------- text output


def format_request(result: dict[str, Any], explain: bool = False) -> str:
    parts = []
    if result.get("route"):
        r = result["route"]
        parts.append(f"route: backend `{r['backend']}` ({r['dialect']}), {r['why']}")
    if result["canonical"] is not None:
        parts.append("canonical call:\n" + _pretty(result["canonical"]))
    if result.get("backend_calls"):
        parts.append(f"backend calls ({result['backend']}), in order:\n" + _pretty(result["backend_calls"]))
    elif result["backend_call"] is not None:
        parts.append(f"backend call ({result['backend']}):\n" + _pretty(result["backend_call"]))
    return _format_end(parts, result, explain)


def format_response(result: dict[str, Any], explain: bool = False) -> str:
    parts = []
    if result["ok"]:
        parts.append("canonical result:\n" + _pretty(result["canonical_result"]))
        parts.append(f"caller's result ({result['dialect']} {result['method']}):\n" + _pretty(result["result"]))
    return _format_end(parts, result, explain)


def _format_end(parts: list[str], result: dict[str, Any], explain: bool) -> str:
    """Both directions end alike: the caller's error if any, the explanation if asked."""
    if result["error"] is not None:
        parts.append(f"error (the answer a {result['dialect']} caller gets):\n" + result["error"]["raw"])
    if explain:
        parts.append(format_explain(result["explain"]))
    return "\n\n".join(parts) + "\n"


def format_explain(steps: list[dict[str, str]]) -> str:
    width = max((len(s["rule"]) for s in steps), default=0)
    lines = ["explain:"]
    for s in steps:
        lines.append(f"  {s['rule']:<{width}}  {s['text']}")
        if s["where"] != "-":
            lines.append(f"  {'':<{width}}    {s['where']}")
    return "\n".join(lines)


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body
