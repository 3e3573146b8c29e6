"""Gateway configuration: `config.yaml`, validated, with command-line overrides on top."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate

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
    dialect = fields.String(load_default="kallithea", validate=validate.OneOf(["kallithea", "rhodecode"]))
    timeout = fields.Float(load_default=30.0, validate=validate.Range(min=0.1))
    max_connections = fields.Integer(load_default=100, validate=validate.Range(min=1))


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
    backend = fields.Nested(BackendSchema, required=True)
    inbound = fields.Nested(InboundSchema, load_default=lambda: InboundSchema().load({}))
    audit = fields.Nested(AuditSchema, load_default=lambda: AuditSchema().load({}))


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

    @property
    def host_port(self) -> tuple[str, int]:
        return _host_port(self.listen)

    def override(self, **changes: Any) -> "Config":
        """Command-line flags win over the file; None means the flag was not given."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if "listen" in changes:
            try:
                _host_port(changes["listen"])
            except ValidationError as exc:
                raise ConfigError(f"--listen: {exc.messages[0]}") from None
        return replace(self, **changes)


def load_config(path: Path | str) -> Config:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    try:
        data = ConfigSchema().load(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_flatten(exc.messages)}") from None
    mappings = Path(data["mappings"])
    if not mappings.is_absolute():
        mappings = path.parent / mappings  # relative to the config file, not the working directory
    return Config(
        listen=data["listen"],
        mappings=mappings,
        backend_url=data["backend"]["url"],
        backend_dialect=data["backend"]["dialect"],
        backend_timeout=data["backend"]["timeout"],
        backend_max_connections=data["backend"]["max_connections"],
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


def _flatten(messages: Any, prefix: str = "") -> str:
    if isinstance(messages, dict):
        return "; ".join(_flatten(v, f"{prefix}{k}.") for k, v in messages.items())
    if isinstance(messages, list):
        return f"{prefix.rstrip('.')}: {' '.join(str(m) for m in messages)}"
    return f"{prefix.rstrip('.')}: {messages}"
