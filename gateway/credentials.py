"""Credential maps: which key to send to a backend for a caller's key.

During a migration a caller's key may be valid on the old instance only. A backend's
map says, for the SHA-256 of a caller's key (all 64 hex digits: never the short
fingerprint of the audit log), which key that backend accepts instead:

    # rcgate credential map: sha256(caller's key) -> the key to send (or env:NAME)
    keys:
      9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08: 0123456789abcdef...
      60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752: env:NEW_CI_KEY

A caller key the map does not name is forwarded unchanged (`unmapped: forward`, the
default: instances migrated with their database keep their keys) or refused
(`unmapped: refuse`). The file must be readable by its owner only; otherwise the
start (or reload) is refused. Nothing here logs a key or a hash.
"""
from __future__ import annotations

import functools
import hashlib
import os
import re
import stat
import sys
from pathlib import Path
from typing import TextIO

import yaml

from . import yamlfile

_HASH = re.compile(r"^[0-9a-f]{64}$")
HEADER = "# rcgate credential map: sha256(caller's key) -> the key this backend accepts (or env:NAME)\n"


class CredentialError(Exception):
    """A credential map that cannot be used; the text names the file, never a key."""


class CredentialMap:
    """The keys to send to one backend; `key_for` answers None when the call must be refused."""

    def __init__(self, keys: dict[str, str] | None = None, unmapped: str = "forward") -> None:
        self._keys = keys or {}
        self.unmapped = unmapped
        self.size = len(self._keys)

    @classmethod
    def load(cls, path: Path | None, unmapped: str = "forward") -> "CredentialMap":
        if path is None:
            return cls(None, unmapped)
        return cls(read_map(path, resolve=True), unmapped)

    def key_for(self, caller_key: str) -> str | None:
        if not self._keys:
            return caller_key if self.unmapped == "forward" else None
        mapped = self._keys.get(_sha256(caller_key))
        if mapped is not None:
            return mapped
        return caller_key if self.unmapped == "forward" else None


@functools.lru_cache(maxsize=4096)  # few distinct callers; a hash per call is ~1 us saved
def _sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_hash(key: str) -> str:
    return _sha256(key)


def read_map(path: Path, resolve: bool) -> dict[str, str]:
    """{hash: key} from a map file; with `resolve`, `env:NAME` values are read from the environment."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise CredentialError(f"{path}: credential map not found") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialError(f"{path}: a credential map must be readable by its owner only "
                              f"(mode {stat.S_IMODE(info.st_mode):04o}; run chmod 600 {path})")
    try:
        data = yamlfile.load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        raise CredentialError(f"{path}: not valid YAML") from None  # the parser's message may quote a key
    keys = data.get("keys") if isinstance(data, dict) else None
    if keys is None:
        keys = {}
    if not isinstance(keys, dict) or set(data) - {"keys"}:
        raise CredentialError(f"{path}: expected one mapping `keys:` of sha256 -> key")
    out: dict[str, str] = {}
    for n, (digest, value) in enumerate(keys.items(), 1):
        if not isinstance(digest, str) or not _HASH.match(digest):
            raise CredentialError(f"{path}: entry {n}: the name must be the 64 hex digits of a key's SHA-256")
        if not isinstance(value, str) or not value:
            raise CredentialError(f"{path}: entry {n}: the value must be a key or env:NAME")
        if resolve and value.startswith("env:"):
            name = value[4:]
            if not os.environ.get(name):
                raise CredentialError(f"{path}: entry {n}: environment variable {name} is not set")
            value = os.environ[name]
        out[digest] = value
    return out


def add_entry(path: Path, old_key: str, new_value: str) -> bool:
    """Map `old_key` to `new_value` (a key or env:NAME) in the file; True when an entry was replaced."""
    entries = read_map(path, resolve=False) if path.exists() else {}
    digest = _sha256(old_key)
    replaced = digest in entries
    entries[digest] = new_value
    text = HEADER + yaml.safe_dump({"keys": entries}, default_flow_style=False, sort_keys=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return replaced


def read_two_keys(stream: TextIO, interactive: bool) -> tuple[str, str]:
    """The caller's key and the key to send instead, one per line (prompted without echo on a terminal)."""
    if interactive:
        import getpass

        old = getpass.getpass("caller's key (as the scripts send it): ")
        new = getpass.getpass("key to send to this backend (or env:NAME): ")
    else:
        lines = stream.read().splitlines()
        if len(lines) < 2:
            raise CredentialError("standard input: expected two lines, the caller's key and the key to send")
        old, new = lines[0], lines[1]
    old, new = old.strip(), new.strip()
    if not old or not new:
        raise CredentialError("standard input: both keys must be non-empty")
    return old, new


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()
