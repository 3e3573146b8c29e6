"""The gateway: one aiohttp application, one pipeline.

    body ─► envelope.decode ─► detect dialect (and version) ─► envelope.read_call
         ─► routes.choose (canonical method, repository, caller, dialect) ─► backend
         ─► plan_call: inbound.to_canonical (rename, validate) ─► outbound.args_down
         ─► credentials.key_for ─► backend.call ─► outbound.result_up ─► fetches
         ─► inbound.result_down ─► envelope.render ─► HTTP 200
                                  (audit.record: exactly once, always, naming the backend)
         └► a sampled read of a route with `shadow:`: compared off the caller's path (shadow.py)

A list of repositories (canonical.yaml `lists:`) that routes spread over several
backends is asked of each of them and merged (listing.py). Every other path of the
host (web views, downloads, hg and git) is streamed to the routed backend by
serve_view (views.py), with one audit record each.

When the caller and the backend speak the same dialect nothing is translated: the
server gets every argument the caller sent (older spellings renamed) and the caller
gets the server's answer untouched.

Everything a call needs from configuration sits in one immutable `Snapshot`; a
call takes the current one when it starts, and a reload swaps in a new one, so
in-flight calls finish on the set they started with.
"""
from __future__ import annotations

import asyncio
import copy
import functools
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from . import composed, envelope, listing, views
from .audit import AuditLog, key_fingerprint
from .backend import Backend, BackendUnavailable
from .config import BackendConfig, Config, ConfigError
from .credentials import CredentialError, CredentialMap
from .dialects import DialectDetector
from .errors import RpcError
from .mapping.engine import Dialect, Inbound, Mappings, Outbound, compile_mappings
from .mapping.loader import load_mappings
from .metrics import Metrics
from .routing import NumericRepoId, Route, Router
from .shadow import Shadow, ShadowCall, capture

log = logging.getLogger("rcgate")
ENDPOINTS = {"/_admin/api": None, "/{dialect}/_admin/api": "{dialect}"}  # a dialect (or dialect@version) by path
CANONICAL_HEADER = "X-Rcgate-Canonical-Method"
GATEWAY = web.AppKey("gateway", "Gateway")


@dataclass(frozen=True)
class Target:
    """One backend: its name, its dialect, its pooled client and its credential map."""

    name: str
    dialect: Dialect
    client: Backend
    credentials: CredentialMap
    config: BackendConfig  # its url, timeout and pool size: the view proxy's own client uses them
    views: views.ViewRules  # how its server takes a key on a web view, its paths that differ
    view_base: str  # scheme://host[:port][/prefix] of its URL, without the API's credentials
    # (canonical method, field) -> whether this backend's last answer lacked the field a `fetch:` fills;
    # when it did, the next call's read goes out together with the call instead of after it
    lacks: dict[tuple[str, str], bool] = field(default_factory=dict)


@dataclass(frozen=True)
class Snapshot:
    """Config, compiled mappings, routes and backend clients: swapped whole on reload."""

    config: Config
    mappings: Mappings
    detector: DialectDetector
    targets: dict[str, Target]
    router: Router
    after_repo: frozenset[str]  # the path segments where a repository's name ends and its view begins
    view_spellings: tuple[views.ViewRules, ...]  # every dialect's paths, to read a caller's view path

    def dialect_for(self, forced: str | None) -> Dialect:
        """The dialect before the body is read: forced by the path, configured, or auto's fallback."""
        inbound = self.config.inbound_dialect
        return self.mappings.dialects[forced or (self.config.fallback_dialect if inbound == "auto" else inbound)]

    def detects(self, forced: str | None) -> bool:
        return forced is None and self.config.inbound_dialect == "auto"

    def version_for(self, dialect: Dialect, call: envelope.Call, fingerprint: str | None) -> Dialect:
        """The older version of the caller's dialect its script was written for: pinned to its key in
        the config, or told by the argument spellings of the call; else the dialect itself."""
        for group, name in self.config.pinned_versions.items():
            if fingerprint in self.config.callers.get(group, ()) and self.mappings.dialects[name].version_of == dialect.name:
                return self.mappings.dialects[name]
        spelled = dialect.version_spelled_by(call.method, call.args)
        return self.mappings.dialects[spelled] if spelled else dialect

    @property
    def clients(self) -> list[Backend]:
        return [t.client for t in self.targets.values()]

    @property
    def default_target(self) -> Target:
        return self.targets[self.router.rules[-1].config.backend]


def build_snapshot(config: Config) -> Snapshot:
    """Everything compiled and opened; a bad mapping, config or credential map raises here."""
    mappings = compile_mappings(load_mappings(config.mappings))
    for group, name in config.pinned_versions.items():
        if name not in mappings.dialects or mappings.dialects[name].version_of is None:
            versions = sorted(n for n, d in mappings.dialects.items() if d.version_of)
            raise ConfigError(f"pinned_versions.{group}: `{name}` is no dialect version (the mapping files have: "
                              f"{', '.join(versions) or 'none'})")
    after_repo = frozenset(mappings.spec.canonical["views"]["after_repo"])
    view_rules = {name: views.compile_view_rules(d["views"], after_repo)
                  for name, d in mappings.spec.dialects.items() if d.get("version_of") is None}
    targets = {}
    for b in config.backend_list():
        dialect = mappings.dialects[b.dialect]
        try:
            credentials = CredentialMap.load(b.credentials, b.unmapped)
        except CredentialError as exc:
            raise CredentialError(f"backends.{b.name}.credentials: {exc}") from None
        targets[b.name] = Target(b.name, dialect, Backend(b.url, dialect, b.timeout, b.max_connections), credentials,
                                 b, view_rules[b.dialect], views.backend_base(b.url))
    router = Router(config.route_list(), config.callers, mappings.canonical, config.numeric_repo_ids)
    return Snapshot(config, mappings, DialectDetector(mappings, config.fallback_dialect), targets, router,
                    after_repo, tuple(view_rules.values()))


class Gateway:
    def __init__(self, config: Config, reload_config: Callable[[], Config] | None = None) -> None:
        self.current = build_snapshot(config)
        self.reload_config = reload_config
        self.audit = AuditLog(
            config.audit_path, config.audit_redact, queue_size=config.audit_queue_size,
            on_full=config.audit_on_full, wait_ms=config.audit_wait_ms,
            max_bytes=config.audit_max_bytes, backups=config.audit_backups,
        )
        self.metrics = Metrics(lambda: self.audit.queue.qsize(), lambda: self.audit.dropped)
        self.retired: list[Backend] = []  # clients of replaced snapshots, closed once their calls are done
        self.views = views.ViewProxy()  # general HTTP traffic: aiohttp's client, one pool per backend
        self.shadow = Shadow(functools.partial(send_to_backend, self.metrics),
                             self.metrics.shadow_result)
        self._configure_shadow(self.current)
        self.metrics.shadow_in_flight(lambda: self.shadow.in_flight)

    def _configure_shadow(self, snap: Snapshot) -> None:
        c = snap.config
        self.shadow.configure(snap.mappings, c.shadow_log, c.shadow_max_in_flight, c.noise_check,
                              frozenset(c.audit_redact))

    async def reload(self) -> bool:
        """Re-read config, mappings and credential maps; swap only if all of it is valid. True when swapped."""
        old = self.current
        try:
            config = self.reload_config() if self.reload_config else old.config
            new = build_snapshot(config)
        except Exception as exc:  # ConfigError, MappingError, CredentialError, anything: keep serving
            log.error("reload refused, still serving the previous configuration: %s", exc)
            self.metrics.reloads.labels("refused").inc()
            return False
        for client in new.clients:
            await client.start()
        self.current = new
        self._configure_shadow(new)
        self.metrics.reloads.labels("ok").inc()
        log.info("reloaded configuration, mappings and credential maps")
        self.retired.extend(old.clients)
        asyncio.get_running_loop().call_later(old.config.longest_timeout + 5, self._close_retired, old.clients)
        return True

    def _close_retired(self, clients: list[Backend]) -> None:
        for client in clients:
            if client in self.retired:  # after in-flight calls on the old set had time to finish
                self.retired.remove(client)
                asyncio.ensure_future(client.close())

    async def close(self) -> None:
        await self.shadow.close()  # running comparisons still use the clients
        await self.views.close()
        for client in [*self.current.clients, *self.retired]:
            await client.close()
        self.retired.clear()
        await self.audit.close()


def create_app(config: Config, reload_config: Callable[[], Config] | None = None) -> web.Application:
    gateway = Gateway(config, reload_config)
    app = web.Application(client_max_size=config.max_body_bytes)
    app[GATEWAY] = gateway
    for path, forced in ENDPOINTS.items():
        app.router.add_route("*", path, _endpoint(forced))
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_route("*", "/{path:.*}", serve_view)  # the rest of the host, last: every other path
    app.on_startup.append(_start)
    app.on_cleanup.append(_stop)
    return app


async def _start(app: web.Application) -> None:
    for client in app[GATEWAY].current.clients:
        await client.start()
    await app[GATEWAY].audit.start()


async def _stop(app: web.Application) -> None:
    await app[GATEWAY].close()


def _endpoint(forced_dialect: str | None):
    async def handle(request: web.Request) -> web.Response:
        forced = request.match_info.get("dialect") if forced_dialect == "{dialect}" else forced_dialect
        if forced is not None and forced not in request.app[GATEWAY].current.mappings.dialects:
            raise web.HTTPNotFound()  # no such dialect (or version) in the mapping files
        return await serve_call(request, forced)

    return handle


async def serve_call(request: web.Request, forced_dialect: str | None) -> web.Response:
    gw: Gateway = request.app[GATEWAY]
    snap = gw.current
    started = time.perf_counter()
    event: dict[str, Any] = {"request_id": os.urandom(16).hex(), "client": request.remote}
    dialect = snap.dialect_for(forced_dialect)
    request_id: Any = None
    canonical_method = None
    caller_key: Any = None
    target: Target | None = None
    seen: dict[str, Any] | None = None  # a shadowed read: the primary's answer, kept for the comparison
    try:
        payload = envelope.decode(await _read_body(request), snap.config.max_json_depth)
        if snap.detects(forced_dialect):
            dialect = snap.mappings.dialects[snap.detector.detect(payload)]
        request_id = payload.get("id")
        caller_key = _first_key(payload, dialect)
        event["key"] = fingerprint = key_fingerprint(caller_key)
        call = envelope.read_call(payload, dialect)
        if dialect.versions:  # a script written for an older version of its dialect gets that version's shapes
            dialect = snap.version_for(dialect, call, fingerprint)
        event["method"] = call.method
        route = choose_route(snap, dialect, call.method, call.args, fingerprint)
        target = snap.targets[route.backend]
        event["backend"] = target.name
        plan = plan_call(dialect, target.dialect, call.method, call.args)
        event["canonical_method"] = canonical_method = plan.canonical_method
        event["args"] = plan.canonical_args
        event["backend_method"] = plan.backend_method
        if route.shadow is not None and gw.shadow.wanted(route.shadow, route.shadow_sample, canonical_method):
            seen = {}
        listed = snap.mappings.canonical[canonical_method].lists if canonical_method else None
        owners = snap.router.candidates(dialect.family, canonical_method, fingerprint) if listed and not snap.router.trivial else ()
        if len(owners) > 1:  # repositories on several instances: every one asked, each entry from its owner
            event["backend"] = ",".join(owners)
            result, extra = await _list_across(gw, snap, dialect, call, fingerprint, owners, listed[1]), None
        else:
            result, extra = await _call_backend(gw, snap, target, dialect, plan, call.key, seen)
        body = envelope.render(dialect, call.id, result=result, extra=extra)
        event["outcome"] = "ok"
    except RpcError as exc:
        if exc.code in dialect.envelope.after_key and isinstance(caller_key, str) and caller_key:
            exc = await key_first(gw, target or snap.default_target, caller_key, exc)  # its server checked it first
        text = exc.text if exc.text is not None else dialect.errors.render(exc.code, with_similar(exc, dialect))
        body = envelope.render(dialect, request_id if exc.echo_id else None, error=text)
        event.update(outcome="error", error_code=exc.code, error=_audit_text(exc, dialect))
    except Exception as exc:  # a bug must still answer in the caller's dialect, never with a traceback
        log.error("internal error: %s", type(exc).__name__)
        body = envelope.render(dialect, request_id, error=dialect.errors.render("internal_error", {}))
        event.update(outcome="error", error_code="internal_error", error=type(exc).__name__)
    if seen is not None:  # the caller's answer is ready: the shadow starts now, on its own
        gw.shadow.submit(ShadowCall(event["request_id"], fingerprint, canonical_method,
                                    copy.deepcopy(plan.canonical_args), call.key, route.index, target,
                                    snap.targets[route.shadow], seen))
    elapsed = time.perf_counter() - started
    event["dialect"] = dialect.name
    event["duration_ms"] = round(elapsed * 1000, 3)
    await gw.audit.record(**event)
    gw.metrics.observe_call(dialect.name, canonical_method or "-", event["outcome"], elapsed, event.get("backend", "-"))
    headers = dict(_NO_CACHE)
    if canonical_method and dialect.envelope.canonical_header:  # a migration hint; the body stays as it is
        headers[CANONICAL_HEADER] = canonical_method
    return web.Response(body=body, content_type="application/json", headers=headers)


async def serve_view(request: web.Request) -> web.StreamResponse:
    """Web views, downloads, hg and git over HTTP: streamed to the backend the routes assign, the key
    rewritten the way that backend reads it. The API under any other spelling goes through serve_call."""
    gw: Gateway = request.app[GATEWAY]
    snap = gw.current
    path = request.rel_url.raw_path  # never an absolute-form target or the Host header: a configured backend only
    if views.is_api_path(path):
        forced = views.api_prefix(path)
        if forced is not None and forced not in snap.mappings.dialects:
            raise web.HTTPNotFound()
        return await serve_call(request, forced)
    started = time.perf_counter()
    query = parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True)
    key, query = views.take_key(query, request.headers)
    fingerprint = key_fingerprint(key)
    repo = views.repository_of(path, snap.after_repo)
    write = views.is_write(request.method, path, query)
    route = snap.router.choose_view(repo, write, fingerprint)
    target = snap.targets[route.backend]
    event: dict[str, Any] = {"request_id": os.urandom(16).hex(), "client": request.remote, "key": fingerprint,
                             "dialect": "http", "method": views.kind(path, query), "http_method": request.method,
                             "path": views.shown(path, query, gw.audit.secret_fields), "repo": repo,
                             "backend": target.name}
    done = views.Proxied()
    sent = target.credentials.key_for(key) if key is not None else None
    if key is not None and sent is None:  # `unmapped: refuse`: this backend never sees a key the map does not name
        done.status, done.error = 403, "unmapped key"
        response: web.StreamResponse = web.Response(status=403, text="Access was denied to this resource.\n")
    else:
        backend_path = target.views.from_canonical(views.canonical_path(path, snap.view_spellings))
        query, headers = views.with_key(query, views.forward_headers(request.headers, key is not None), sent,
                                        target.views)
        base = target.view_base
        response = await gw.views.forward(request, gw.views.session(target.name, target.config.max_connections),
                                          base + backend_path + ("?" + urlencode(query) if query else ""), headers,
                                          target.config.timeout, base, done)
    elapsed = time.perf_counter() - started
    event.update(status=done.status, bytes_in=done.bytes_in, bytes_out=done.bytes_out,
                 outcome="ok" if done.error is None and done.status < 500 else "error",
                 duration_ms=round(elapsed * 1000, 3))
    if done.error is not None:
        event["error"] = done.error
    await gw.audit.record(**event)
    gw.metrics.observe_call("http", event["method"], event["outcome"], elapsed, target.name)
    return response


def choose_route(snap: Snapshot, dialect: Dialect, method: str, args: dict[str, Any], fingerprint: str | None) -> Route:
    """The backend for this call, from the routes (the canonical call is read only if a rule needs it)."""
    if snap.router.trivial:
        return snap.router.choose(dialect.family, None, method, fingerprint, dict)
    inbound = dialect.inbound.get(method)
    if inbound is not None and inbound.unsupported:
        inbound = None
    try:
        return snap.router.choose(dialect.family, inbound.canonical if inbound else None, method, fingerprint,
                                  lambda: inbound.to_canonical(args, strict=False))
    except NumericRepoId as exc:
        raise RpcError("repo_by_id", arg=inbound.arg_names.get(exc.arg, exc.arg), value=exc.value) from None


_NO_CACHE = {"Cache-Control": "no-cache", "Pragma": "no-cache"}


async def _read_body(request: web.Request) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise RpcError("body_too_large", echo_id=False, limit=request.client_max_size) from None


def _first_key(payload: dict[str, Any], dialect: Dialect) -> Any:
    return next((payload[f] for f in dialect.envelope.key_fields if payload.get(f)), None)


@dataclass(frozen=True, slots=True)
class CallPlan:
    """What one call becomes: the canonical call, and the backend's method and arguments."""

    inbound: Inbound | None  # None: a method the caller's dialect does not list, forwarded as sent
    outbound: Outbound | None  # None when caller and backend share the dialect: nothing to translate
    canonical_method: str | None
    canonical_args: dict[str, Any]
    backend_method: str
    backend_args: dict[str, Any]


def plan_call(caller: Dialect, backend: Dialect, method: str, args: dict[str, Any]) -> CallPlan:
    """Translate a call for the backend, or refuse it (RpcError) in the caller's terms."""
    if caller is backend:  # same dialect: the server decides what it knows
        inbound = caller.inbound.get(method)
        if inbound is None and caller.envelope.unknown_methods == "forward":
            return CallPlan(None, None, None, {}, method, args)
        inbound = find_inbound(caller, method)
        sent = inbound.as_sent(args)
        return CallPlan(inbound, None, inbound.canonical, inbound.to_canonical(sent, strict=False), inbound.name, sent)
    inbound = find_inbound(caller, method)  # fail closed: only what both files describe is translated
    outbound = find_outbound(backend, inbound)  # a method the backend cannot serve: refused whatever the arguments
    canonical_args = inbound.to_canonical(args)
    return CallPlan(inbound, outbound, inbound.canonical, canonical_args, outbound.method,
                    outbound.args_down(canonical_args))


def find_inbound(dialect: Dialect, method: str) -> Inbound:
    inbound = dialect.inbound.get(method)
    if inbound is None:  # Python 2 servers stumbled on a non-ASCII name before looking it up
        raise RpcError("unknown_method" if method.isascii() else "method_not_ascii", method=method)
    if inbound.unsupported:
        raise RpcError("unsupported", method=method, reason=inbound.unsupported)
    return inbound


def find_outbound(backend: Dialect, inbound: Inbound) -> Outbound:
    outbound = backend.outbound.get(inbound.canonical)
    if outbound is None:  # fail closed: never guess a backend method
        raise RpcError("unsupported", method=inbound.name, reason=f"no mapping to a {backend.name} method")
    if outbound.unsupported:
        raise RpcError("unsupported", method=inbound.name, reason=outbound.unsupported)
    return outbound


async def _call_backend(gw: Gateway, snap: Snapshot, target: Target, dialect: Dialect, plan: CallPlan,
                        key: str, seen: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any] | None]:
    backend = target.dialect
    backend_args = plan.backend_args
    if plan.outbound is not None:
        if plan.inbound.before or plan.outbound.before:  # what the caller's server did first; what this one needs
            send = _step_sender(gw, target, dialect, plan.inbound, key)
            await composed.run_steps(plan.inbound.before + plan.outbound.before,
                                     composed.Context(dict(plan.canonical_args)), send)
        if plan.outbound.composed is not None:  # the backend lacks the method: its steps answer it
            send = _step_sender(gw, target, dialect, plan.inbound, key)
            result = await composed.answer(plan.outbound.composed, plan.canonical_args, send)
            if seen is not None:
                seen["canonical"] = copy.deepcopy(result)
            return plan.inbound.result_down(result), None
        if plan.outbound.args_from:
            backend_args = await _args_first(gw, target, dialect, plan, key)
    early = _early_fetches(gw, target, plan, key) if plan.inbound is not None and plan.inbound.fetches else {}
    try:
        answer = await send_to_backend(gw.metrics, target, plan.backend_method, backend_args, key)
        if seen is not None:
            capture(seen, answer.result, answer.error)
        if plan.outbound is None:  # same dialect both sides: the server's answer, untouched
            if answer.error is not None:
                raise RpcError("backend_error", answer.error)
            return answer.result, answer.extra
        inbound, args = plan.inbound, plan.canonical_args
        if answer.error is not None:
            error = translated_error(answer.error, backend, dialect, inbound)
            if error.code == "internal_error" and plan.backend_method in backend.admin_only:
                error = await _denied_or(gw, target, dialect, key, error)
            raise error
        result = plan.outbound.answer_up(answer.result, args)
        for i, fetch in enumerate(inbound.fetches):
            if fetch.each is not None:  # one read per item, side by side; a failed read leaves its item as it was
                items = fetch.items(result)
                values = await asyncio.gather(*(_fetch(gw, target, fetch.method,
                                                       {a: item.get(b) for a, b in fetch.args.items()}, key)
                                                for item in items))
                for item, value in zip(items, values):
                    if value is not None:
                        item[fetch.into] = fetch.fetched(value)
            elif isinstance(result, dict):
                missing = fetch.into not in result
                target.lacks[(plan.canonical_method, fetch.into)] = missing
                if not missing:
                    continue
                read = early.pop(i, None)
                value = await (read if read is not None else _fetch(gw, target, fetch.method, _fetch_args(fetch, args),
                                                                    key))
                result[fetch.into] = None if value is None else fetch.fetched(value)
        return inbound.result_down(result), None
    finally:
        for read in early.values():  # not needed after all (an error, or the field was there): dropped
            read.cancel()


def _early_fetches(gw: Gateway, target: Target, plan: CallPlan, key: str) -> dict[int, asyncio.Future]:
    """The `fetch:` reads this backend's last answer showed to be needed, sent together with the call:
    their arguments are the call's own, so they need not wait for its answer."""
    early = {}
    for i, fetch in enumerate(plan.inbound.fetches):
        if fetch.each is None and target.lacks.get((plan.canonical_method, fetch.into)):
            early[i] = asyncio.ensure_future(_fetch(gw, target, fetch.method,
                                                        _fetch_args(fetch, plan.canonical_args), key))
    return early


def _fetch_args(fetch: Any, args: dict[str, Any]) -> dict[str, Any]:
    return {a: args[b] for a, b in fetch.args.items() if b in args}


async def send_to_backend(metrics: Metrics, target: Target, method: str, args: dict[str, Any], key: str):
    """One call to a backend, with the key its credential map gives (counted in `metrics`); RpcError
    `invalid_key` when the map refuses the key, `backend_unavailable` when the backend cannot be asked."""
    sent_key = target.credentials.key_for(key)
    if sent_key is None:  # `unmapped: refuse`: this backend gets no key the map does not name
        raise RpcError("invalid_key")
    started = time.perf_counter()
    try:
        return await target.client.call(method, args, sent_key)
    except BackendUnavailable as exc:
        metrics.backend_error(target.name)
        raise RpcError("backend_unavailable", reason=str(exc)) from None
    finally:
        metrics.observe_backend(target.name, time.perf_counter() - started)


def _step_sender(gw: Gateway, target: Target, caller: Dialect, inbound: Inbound, key: str) -> composed.Send:
    """Send one step of a composed call: translated for the backend, answered in canonical form."""

    async def send(step, args: dict[str, Any]) -> Any:
        outbound = target.dialect.outbound[step.call]
        answer = await send_to_backend(gw.metrics, target, outbound.method, outbound.args_down(args), key)
        if answer.error is not None:
            raise translated_error(answer.error, target.dialect, caller, inbound)
        return outbound.answer_up(answer.result, args)

    return send


async def key_first(gw: Gateway, target: Target, key: str, refusal: RpcError) -> RpcError:
    """The caller's own server would have refused a bad key before `refusal`: ask the backend (one cheap read
    of the caller's own user) and answer the invalid-key error if the key is bad. Only on error paths."""
    who = await _whoami(gw, target, key)
    return RpcError("invalid_key") if who == "invalid_key" else refusal


async def _denied_or(gw: Gateway, target: Target, caller: Dialect, key: str, error: RpcError) -> RpcError:
    """A backend that answers a missing permission like a crash (Kallithea): a caller who is not a super-admin
    gets `access_denied` in its own dialect's words, a real crash stays one."""
    who = await _whoami(gw, target, key)
    if isinstance(who, dict) and who.get("admin") is False and "access_denied" in caller.errors.templates:
        return RpcError("access_denied", caller.errors.render("access_denied", {}))
    return error


async def _whoami(gw: Gateway, target: Target, key: str) -> Any:
    """The caller's own user on this backend, "invalid_key" when the backend refuses the key, else None."""
    outbound = target.dialect.outbound.get("get_user")
    if outbound is None or outbound.unsupported:
        return None
    try:
        answer = await send_to_backend(gw.metrics, target, outbound.method, outbound.args_down({}), key)
    except RpcError as exc:  # a key the credential map refuses is a bad key; an unreachable backend says nothing
        return "invalid_key" if exc.code == "invalid_key" else None
    if answer.error is not None:
        text = answer.error if isinstance(answer.error, str) else ""
        parsed = target.dialect.errors.parse(text)
        return "invalid_key" if parsed and parsed[0] == "invalid_key" else None
    return outbound.result_up(answer.result)


async def _args_first(gw: Gateway, target: Target, caller: Dialect, plan: CallPlan, key: str) -> dict[str, Any]:
    """The backend's arguments, with what it requires but the call left to its default read from it first
    (`args_from:`, e.g. RhodeCode 1.x show_ip needs the caller's own userid)."""
    wanted = plan.outbound.args_wanted(plan.canonical_args)
    if not wanted:
        return plan.backend_args
    args = dict(plan.canonical_args)
    for arg, method, field in wanted:
        outbound = target.dialect.outbound[method]
        answer = await send_to_backend(gw.metrics, target, outbound.method, outbound.args_down({}), key)
        if answer.error is not None:  # e.g. a bad key: the server's own answer to it
            raise translated_error(answer.error, target.dialect, caller, plan.inbound)
        value = outbound.result_up(answer.result)
        args[arg] = value.get(field) if isinstance(value, dict) else None
    return plan.outbound.args_down(args)


async def _fetch(gw: Gateway, target: Target, method: str, args: dict[str, Any], key: str) -> Any:
    """A follow-up read a dialect declared (`fetch:`); its failure leaves the field null."""
    outbound = target.dialect.outbound.get(method)
    if outbound is None or outbound.unsupported:
        return None
    try:
        answer = await send_to_backend(gw.metrics, target, outbound.method, outbound.args_down(args), key)
    except RpcError:
        return None
    return None if answer.error is not None else outbound.result_up(answer.result)


async def _list_across(gw: Gateway, snap: Snapshot, dialect: Dialect, call: envelope.Call, fingerprint: str | None,
                       owners: tuple[str, ...], field: str) -> Any:
    """One listing answered by several backends, each entry from the backend the routes send it to."""
    cmethod = None

    async def ask(name: str) -> listing.Part:
        nonlocal cmethod
        target = snap.targets[name]
        plan = plan_call(dialect, target.dialect, call.method, call.args)
        cmethod = plan.canonical_method
        answer = await send_to_backend(gw.metrics, target, plan.backend_method, plan.backend_args, call.key)
        if answer.error is not None:
            if plan.outbound is None:
                raise RpcError("backend_error", answer.error)
            raise translated_error(answer.error, target.dialect, dialect, plan.inbound)
        if plan.outbound is None:  # the caller's own dialect: read up only to know each entry's name
            raw = listing.expect_list(answer.result, name)
            return listing.Part(name, target.dialect.outbound[plan.canonical_method].result_up(raw), raw)
        return listing.Part(name, listing.expect_list(plan.outbound.answer_up(answer.result, plan.canonical_args),
                                                      name), None)

    parts = await listing.gather_parts(owners, ask)
    owner = lambda entry: snap.router.choose_for_name(dialect.family, cmethod, fingerprint, entry)  # noqa: E731
    canonical, raw = listing.merge(parts, field, owner)
    if raw is not None:
        return raw
    return dialect.inbound[call.method].result_down(canonical)


def translated_error(error: Any, backend: Dialect, dialect: Dialect, inbound: Inbound) -> RpcError:
    """A backend's error text, reworded in the caller's dialect where both files know it."""
    if backend is dialect:
        return RpcError("backend_error", error)  # same dialect: untouched, even a 4.x {field: message} object
    text = error if isinstance(error, str) else flatten_error(error)
    parsed = backend.errors.parse(text)
    if parsed and parsed[0] in dialect.errors.templates:
        code, params = parsed
        if "method" in params:
            params["method"] = inbound.name
        if "arg" in params:
            params["arg"] = inbound.arg_names.get(params["arg"], params["arg"])
        return RpcError(code, dialect.errors.render(code, params))
    return RpcError("backend_error", text)


def flatten_error(error: Any) -> str:
    """Modern servers report validation failures as {field: message}; legacy callers need a string."""
    if isinstance(error, dict):
        return "; ".join(f"{v}" for v in error.values())
    return str(error)


def with_similar(exc: RpcError, dialect: Dialect) -> dict[str, Any]:
    """Modern RhodeCode lists methods that share a word with an unknown one."""
    method = exc.params.get("method")
    if exc.code not in ("unknown_method", "method_not_allowed", "method_not_ascii") or not isinstance(method, str):
        return exc.params
    parts = {p for p in method.split("_") if p}
    similar = sorted(m for m in dialect.inbound if parts & set(m.split("_")))
    return {**exc.params, "similar": ", ".join(similar) or "none"}


def _audit_text(exc: RpcError, dialect: Dialect) -> str:
    """The error as the caller saw it, minus any echo of the request body (it holds the key)."""
    if exc.text is not None:
        return exc.text
    params = {k: ("<body>" if k in envelope.SECRET_PARAMS else v) for k, v in exc.params.items()}
    return dialect.errors.render(exc.code, params)


# --------------------------------------------------------------------------- operations endpoints


async def _metrics(request: web.Request) -> web.Response:
    metrics = request.app[GATEWAY].metrics
    return web.Response(body=metrics.exposition(), headers={"Content-Type": metrics.content_type})


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    """Per backend: does it answer its API endpoint at all (any JSON-RPC answer will do)?

    Ready (200) while at least one backend answers: calls routed to a backend that is
    down fail on their own, the others are served. 503 when none answers.
    """
    targets = request.app[GATEWAY].current.targets
    probes = await asyncio.gather(*(t.client.probe() for t in targets.values()))
    backends = {name: {"ready": ok, "state": reason} for name, (ok, reason) in zip(targets, probes)}
    ready = any(ok for ok, _ in probes)
    body: dict[str, Any] = {"ready": ready, "backends": backends}
    if len(targets) == 1:
        body["backend"] = probes[0][1]  # the one backend's state, as before several backends existed
    return web.json_response(body, status=200 if ready else 503)
