"""Gateway configuration: `config.yaml`, validated, with command-line overrides on top."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from . import yamlfile
from .mapping.loader import DIALECTS


class ConfigError(Exception):
    pass


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValidationError("must be HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]"), int(port)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class BackendSchema(_Strict):
    url = fields.Url(required=True, require_tld=False, schemes={"http", "https"})
    dialect = fields.String(load_default="kallithea", validate=validate.OneOf(DIALECTS))
    timeout = fields.Float(load_default=30.0, validate=validate.Range(min=0.1))
    max_connections = fields.Integer(load_default=100, validate=validate.Range(min=1))
    credentials = fields.String(load_default=None)  # credential map file, relative to the config file
    unmapped = fields.String(load_default="forward", validate=validate.OneOf(["forward", "refuse"]))


class _OneOrMany(fields.Field):
    """A string or a list of strings, loaded as a tuple."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(i, str) and i for i in items):
            raise ValidationError("a name or a non-empty list of names")
        return tuple(items)


class RouteSchema(_Strict):
    backend = fields.String(required=True)
    method = _OneOrMany()  # canonical method names or globs, or `read` / `write`
    repo = _OneOrMany()  # name globs of the repository (group) the call is about
    caller = _OneOrMany()  # names of groups under `callers:`
    dialect = _OneOrMany(validate=lambda v: all(d in DIALECTS for d in v) or _fail(f"dialects are {', '.join(DIALECTS)}"))
    shadow = fields.String()  # a backend that also gets a sample of this route's reads, to compare
    shadow_sample = fields.Float(validate=validate.Range(min=0.0, max=1.0))  # the share of reads shadowed


def _fail(message: str) -> bool:
    raise ValidationError(message)


def _fingerprints(value: Any) -> bool:
    if not all(isinstance(f, str) and 12 <= len(f) <= 64 and all(c in "0123456789abcdef" for c in f) for f in value):
        raise ValidationError("key fingerprints: 12 (as in the audit log) to 64 lowercase hex digits")
    return True


class InboundSchema(_Strict):
    dialect = fields.String(load_default="auto", validate=validate.OneOf(["auto", *DIALECTS]))
    fallback = fields.String(load_default="kallithea", validate=validate.OneOf(DIALECTS))


class AuditSchema(_Strict):
    path = fields.String(load_default="-")
    redact = fields.List(fields.String(), load_default=list)
    queue_size = fields.Integer(load_default=100_000, validate=validate.Range(min=1))
    on_full = fields.String(load_default="wait", validate=validate.OneOf(["wait", "wait_briefly", "drop"]))
    wait_ms = fields.Float(load_default=50.0, validate=validate.Range(min=0))
    max_bytes = fields.Integer(load_default=100 * 1024 * 1024, validate=validate.Range(min=0))
    backups = fields.Integer(load_default=10, validate=validate.Range(min=0))


class LimitsSchema(_Strict):
    max_body_bytes = fields.Integer(load_default=10 * 1024 * 1024, validate=validate.Range(min=1024))
    max_json_depth = fields.Integer(load_default=64, validate=validate.Range(min=2, max=512))


class ConfigSchema(_Strict):
    listen = fields.String(load_default="127.0.0.1:8080", validate=_host_port)
    limits = fields.Nested(LimitsSchema, load_default=lambda: LimitsSchema().load({}))
    mappings = fields.String(load_default="mappings")
    backend = fields.Nested(BackendSchema)  # one backend; or several under `backends:`
    backends = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_.-]+$", error="a backend name is "
                                                                       "letters, digits, `_`, `.`, `-`")),
                           values=fields.Nested(BackendSchema), validate=validate.Length(min=1))
    callers = fields.Dict(keys=fields.String(), values=fields.List(fields.String(), validate=_fingerprints),
                          load_default=dict)
    routes = fields.List(fields.Nested(RouteSchema), load_default=list)
    # {caller group: dialect@version}: those keys' scripts were written for that older version
    pinned_versions = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    numeric_repo_ids = fields.String(load_default="follow")  # follow | refuse | a backend's name
    shadow_log = fields.String(load_default=None)  # the diff log (JSON lines) of the shadowed reads
    shadow_max_in_flight = fields.Integer(load_default=16, validate=validate.Range(min=1))  # beyond: skipped
    noise_check = fields.Boolean(load_default=False)  # ask the primary twice: what differs there is noise
    inbound = fields.Nested(InboundSchema, load_default=lambda: InboundSchema().load({}))
    audit = fields.Nested(AuditSchema, load_default=lambda: AuditSchema().load({}))


SINGLE_BACKEND = "default"  # the name of the one backend of a `backend:` config


@dataclass(frozen=True)
class BackendConfig:
    name: str
    url: str
    dialect: str
    timeout: float
    max_connections: int
    credentials: Path | None = None  # the credential map file
    unmapped: str = "forward"  # a caller key the map does not name: forward it, or refuse the call


@dataclass(frozen=True)
class RouteConfig:
    """One rule of `routes:`; a condition left out matches everything."""

    backend: str
    method: tuple[str, ...] | None = None
    repo: tuple[str, ...] | None = None
    caller: tuple[str, ...] | None = None
    dialect: tuple[str, ...] | None = None
    index: int = 0  # its place in the list, for messages: routes[3]
    shadow: str | None = None  # a backend that also gets a sample of this route's reads (never a write)
    shadow_sample: float = 1.0  # the share of those reads, 0.0 - 1.0


@dataclass(frozen=True)
class Config:
    listen: str
    mappings: Path
    backend_url: str
    backend_dialect: str
    backend_timeout: float
    backend_max_connections: int
    inbound_dialect: str
    fallback_dialect: str
    audit_path: str
    audit_redact: list[str] = field(default_factory=list)
    audit_queue_size: int = 100_000
    audit_on_full: str = "wait"
    audit_wait_ms: float = 50.0
    audit_max_bytes: int = 100 * 1024 * 1024
    audit_backups: int = 10
    max_body_bytes: int = 10 * 1024 * 1024
    max_json_depth: int = 64
    source: Path | None = None  # the config file, re-read on SIGHUP
    backends: tuple[BackendConfig, ...] = ()  # several backends (`backends:`); empty: the one `backend:`
    routes: tuple[RouteConfig, ...] = ()
    callers: dict[str, tuple[str, ...]] = field(default_factory=dict)  # group name -> key fingerprints
    pinned_versions: dict[str, str] = field(default_factory=dict)  # caller group -> dialect@version
    numeric_repo_ids: str = "follow"
    shadow_log: Path | None = None  # the diff log of shadowed reads
    shadow_max_in_flight: int = 16  # shadow calls at once; beyond, a sampled read is skipped (and counted)
    noise_check: bool = False  # ask the primary twice; a field that differs between its own answers is noise
    backend_credentials: Path | None = None  # the one backend's credential map
    backend_unmapped: str = "forward"

    @property
    def host_port(self) -> tuple[str, int]:
        return _host_port(self.listen)

    def backend_list(self) -> tuple[BackendConfig, ...]:
        """Every backend; a `backend:` config has one, named `default`."""
        if self.backends:
            return self.backends
        return (BackendConfig(SINGLE_BACKEND, self.backend_url, self.backend_dialect, self.backend_timeout,
                              self.backend_max_connections, self.backend_credentials, self.backend_unmapped),)

    def route_list(self) -> tuple[RouteConfig, ...]:
        """The routes; without any, everything goes to the one backend."""
        return self.routes or (RouteConfig(self.backend_list()[0].name),)

    @property
    def longest_timeout(self) -> float:
        return max(b.timeout for b in self.backend_list())

    def override(self, **changes: Any) -> "Config":
        """Command-line flags win over the file; None means the flag was not given."""
        changes = {k: v for k, v in changes.items() if v is not None}
        flags = {"backend_url": "--backend-url", "backend_dialect": "--backend-dialect"}
        if self.backends and changes.keys() & flags.keys():
            given = " and ".join(f for k, f in flags.items() if k in changes)
            raise ConfigError(f"{given} set the one `backend:`; this config has `backends:`, set them there")
        if "listen" in changes:
            try:
                _host_port(changes["listen"])
            except ValidationError as exc:
                raise ConfigError(f"--listen: {exc.messages[0]}") from None
        return replace(self, **changes)


def load_config(path: Path | str) -> Config:
    path = Path(path)
    try:
        raw = yamlfile.load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    try:
        data = ConfigSchema().load(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_flatten(exc.messages)}") from None
    mappings = _relative_to(path, data["mappings"])
    backends = tuple(_backend(path, name, b) for name, b in data.get("backends", {}).items())
    single = data.get("backend")
    if bool(backends) == bool(single):
        raise ConfigError(f"{path}: give either `backend:` (one server) or `backends:` (several), not "
                          f"{'both' if single else 'neither'}")
    for i, r in enumerate(data["routes"]):
        if "shadow_sample" in r and "shadow" not in r:
            raise ConfigError(f"{path}: routes[{i}].shadow_sample: a sample of what? Name the `shadow:` backend")
    routes = tuple(RouteConfig(index=i, **r) for i, r in enumerate(data["routes"]))
    _check_routes(path, routes, {b.name for b in backends} if backends else {SINGLE_BACKEND},
                  data["callers"], data["numeric_repo_ids"])
    shadowed = [r for r in routes if r.shadow]
    if shadowed and not data["shadow_log"]:
        raise ConfigError(f"{path}: routes[{shadowed[0].index}].shadow: shadowed reads need `shadow_log:`, the file "
                          f"their differences are written to")
    for group in data["pinned_versions"]:
        if group not in data["callers"]:
            raise ConfigError(f"{path}: pinned_versions.{group}: no caller group named `{group}` under `callers:`")
    first = single or {"url": "", "dialect": "kallithea", "timeout": 30.0, "max_connections": 100,
                       "credentials": None, "unmapped": "forward"}
    return Config(
        listen=data["listen"],
        mappings=mappings,
        backend_url=first["url"],
        backend_dialect=first["dialect"],
        backend_timeout=first["timeout"],
        backend_max_connections=first["max_connections"],
        backend_credentials=_relative_to(path, first["credentials"]) if first["credentials"] else None,
        backend_unmapped=first["unmapped"],
        backends=backends,
        routes=routes,
        callers={k: tuple(v) for k, v in data["callers"].items()},
        pinned_versions=dict(data["pinned_versions"]),
        numeric_repo_ids=data["numeric_repo_ids"],
        shadow_log=_relative_to(path, data["shadow_log"]) if data["shadow_log"] else None,
        shadow_max_in_flight=data["shadow_max_in_flight"],
        noise_check=data["noise_check"],
        inbound_dialect=data["inbound"]["dialect"],
        fallback_dialect=data["inbound"]["fallback"],
        audit_path=data["audit"]["path"],
        audit_redact=data["audit"]["redact"],
        audit_queue_size=data["audit"]["queue_size"],
        audit_on_full=data["audit"]["on_full"],
        audit_wait_ms=data["audit"]["wait_ms"],
        audit_max_bytes=data["audit"]["max_bytes"],
        audit_backups=data["audit"]["backups"],
        max_body_bytes=data["limits"]["max_body_bytes"],
        max_json_depth=data["limits"]["max_json_depth"],
        source=path,
    )


def _relative_to(config_file: Path, value: str) -> Path:
    """A path of the config file: relative to the file, not to the working directory."""
    p = Path(value)
    return p if p.is_absolute() else config_file.parent / p


def _backend(config_file: Path, name: str, b: dict[str, Any]) -> BackendConfig:
    credentials = _relative_to(config_file, b["credentials"]) if b["credentials"] else None
    return BackendConfig(name, b["url"], b["dialect"], b["timeout"], b["max_connections"], credentials, b["unmapped"])


def _check_routes(path: Path, routes: tuple[RouteConfig, ...], backends: set[str], callers: dict[str, Any],
                  numeric_repo_ids: str) -> None:
    """What the schema cannot see: names that must exist, and a last rule that catches everything."""
    for r in routes:
        where = f"{path}: routes[{r.index}]"
        if r.backend not in backends:
            raise ConfigError(f"{where}.backend: no backend named `{r.backend}` (backends: {', '.join(sorted(backends))})")
        for group in r.caller or ():
            if group not in callers:
                raise ConfigError(f"{where}.caller: no caller group named `{group}` under `callers:`")
        if r.shadow is not None and r.shadow not in backends:
            raise ConfigError(f"{where}.shadow: no backend named `{r.shadow}` (backends: {', '.join(sorted(backends))})")
        if r.shadow is not None and r.shadow == r.backend:
            raise ConfigError(f"{where}.shadow: `{r.shadow}` is this route's own backend: a shadow is another instance")
    if len(backends) > 1 and not routes:
        raise ConfigError(f"{path}: routes: several backends need routes (the last one, with no condition, "
                          f"is the default)")
    if routes and any(getattr(routes[-1], c) for c in ("method", "repo", "caller", "dialect")):
        raise ConfigError(f"{path}: routes[{routes[-1].index}]: the last route is the default: it takes no "
                          f"condition, only `backend`")
    if numeric_repo_ids not in ("follow", "refuse") and numeric_repo_ids not in backends:
        raise ConfigError(f"{path}: numeric_repo_ids: `follow`, `refuse` or a backend's name, not `{numeric_repo_ids}`")


def _flatten(messages: Any, prefix: str = "") -> str:
    if isinstance(messages, dict):
        return "; ".join(_flatten(v, f"{prefix}{k}.") for k, v in messages.items())
    if isinstance(messages, list):
        return f"{prefix.rstrip('.')}: {' '.join(str(m) for m in messages)}"
    return f"{prefix.rstrip('.')}: {messages}"
