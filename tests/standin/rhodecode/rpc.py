"""The API methods' registry: 4.22's signatures, Optional defaults and permission helpers.

A method is a function `f(c: Call, <4.22 arguments>)` whose parameters are declared in
4.22's own order, with `REQUIRED` or an `Opt(default)` as default: the JSON-RPC layer checks
the required ones by presence, fills in the `Opt` markers for omitted ones (a method tells
"omitted" from "given" with `given()`, like 4.22's `isinstance(x, Optional)`), and drops
unknown arguments. `get_method` describes the signature from the same declaration.
"""
from __future__ import annotations

import fnmatch
import inspect
from dataclasses import dataclass
from typing import Any, Callable

from . import perms, py2
from .errors import Forbidden, RpcError
from .model import Repo, RepoGroup, User, UserGroup
from .py2 import py2str
from .world import World

REQUIRED: Any = type("Required", (), {"__repr__": lambda self: "<RequiredType>"})()


@dataclass(frozen=True)
class Opt:
    """4.22's `Optional(default)` / `OptionalAttr('apiuser')`: `text` is the Python 2 repr of
    the default where Python 3 would print it differently (u'note')."""

    value: Any = None
    text: str | None = None
    attr: str | None = None

    def __repr__(self) -> str:
        if self.attr:
            return f"<OptionalAttr:{self.attr}>"
        return f"<Optional:{self.text if self.text is not None else repr(self.value)}>"


APIUSER = Opt(attr="apiuser")


def as_bool(value: Any) -> bool:
    """4.22's str2bool / colander Boolean: "true", "yes", "on", "1"... and JSON booleans."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "y", "t", "1")
    return bool(value)


def given(value: Any) -> bool:
    return not isinstance(value, Opt)


def extract(value: Any, call: Call | None = None) -> Any:
    """The value of an argument: what was sent, or the default (the caller for `apiuser`)."""
    if isinstance(value, Opt):
        return call.user if value.attr == "apiuser" and call is not None else value.value
    return value


@dataclass
class Call:
    """One API call: the world, the calling user (4.22's `apiuser`) and its address."""

    world: World
    user: User
    ip: str

    @property
    def admin(self) -> bool:
        return self.user.admin

    def require_admin(self) -> None:
        if not self.user.admin:
            raise Forbidden()

    def repo(self, repoid: Any, minimum: str | None = None) -> Repo:
        """The repository; with `minimum`, a caller without that permission is told it does not exist."""
        repo = self.world.repo_or_error(repoid)
        if minimum and not perms.has_repo(self.world, self.user, repo, minimum):
            raise RpcError(f"repository `{_text(repoid)}` does not exist")
        return repo

    def check_repo(self, repoid: Any, repo: Repo, minimum: str) -> None:
        if not perms.has_repo(self.world, self.user, repo, minimum):
            raise RpcError(f"repository `{_text(repoid)}` does not exist")

    def repo_group(self, groupid: Any, minimum: str | None = None) -> RepoGroup:
        group = self.world.repo_group_or_error(groupid)
        if minimum:
            self.check_repo_group(groupid, group, minimum)
        return group

    def check_repo_group(self, groupid: Any, group: RepoGroup, minimum: str) -> None:
        if not perms.has_repo_group(self.world, self.user, group, minimum):
            raise RpcError(f"repository group `{_text(groupid)}` does not exist")

    def user_group(self, groupid: Any, minimum: str | None = None) -> UserGroup:
        group = self.world.user_group_or_error(groupid)
        if minimum:
            self.check_user_group(groupid, group, minimum)
        return group

    def check_user_group(self, groupid: Any, group: UserGroup, minimum: str) -> None:
        if not perms.has_user_group(self.world, self.user, group, minimum):
            raise RpcError(f"user group `{_text(groupid)}` does not exist")

    def owner(self, owner: Any) -> User:
        """validate_set_owner_permissions: only a super-admin may name another owner."""
        if not given(owner):
            return self.user
        if not self.admin:
            raise RpcError("Only RhodeCode super-admin can specify `owner` param")
        return self.world.user_or_error(owner)

    def same_user(self, userid: Any) -> User:
        """`userid` defaulting to the caller; a non-admin may only pass its own (integer) id."""
        if not self.admin and given(userid) and userid != self.user.user_id:
            raise RpcError("userid is not the same as your user")
        return self.user if not given(userid) else self.world.user_or_error(userid)


def _text(value: Any) -> str:
    return py2str(value)


def perm_or_error(perm: Any, prefix: str | None = None) -> str:
    """get_perm_or_error: an existing permission name, of the prefix's kind if one is given."""
    if perm not in perms.KNOWN_PERMS:
        msg = f"permission `{_text(perm)}` does not exist."
        if prefix:
            msg += f" Permission should start with prefix: `{prefix}`"
        raise RpcError(msg)
    if prefix and not perm.startswith(prefix):
        raise RpcError(f"permission `{perm}` is invalid, should start with {prefix}")
    return perm


@dataclass
class Method:
    name: str
    module: str  # the 4.22 module defining it: methods register module by module
    func: Callable[..., Any]
    params: tuple[tuple[str, Any], ...]  # (name, REQUIRED or Opt) in 4.22's argument order
    deprecated_for: str | None

    def missing(self, args: dict[str, Any]) -> str | None:
        for name, default in self.params:
            if default is REQUIRED and name not in args:
                return name
        return None

    def call(self, c: Call, args: dict[str, Any]) -> Any:
        kwargs = {name: args[name] if name in args else default for name, default in self.params}
        return self.func(c, **kwargs)

    def describe(self) -> dict[str, str]:
        """get_method's argument map: 4.22 zips the reversed argument list with the reversed
        defaults' reprs and builds a (Python 2) dict from it."""
        names = ["request", "apiuser"] + [n for n, _ in self.params]
        defaults = [repr(d) for _, d in self.params if d is not REQUIRED]
        pairs = list(zip(reversed(names), list(reversed(defaults)) + ["<RequiredType>"] * len(names)))
        return {k: dict(pairs)[k] for k in py2.key_order(k for k, _ in pairs)}


_REGISTRY: dict[str, Method] = {}
_ORDERED: dict[str, Method] = {}


def api(module: str, deprecated_for: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register an API method of 4.22's `rhodecode.api.views.<module>`."""

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        params = tuple((p.name, p.default) for p in list(inspect.signature(func).parameters.values())[1:])
        seen_optional = False
        for name, default in params:  # Python 2 argspecs keep defaults at the end
            if default is not REQUIRED and not isinstance(default, Opt):
                raise TypeError(f"{func.__name__}.{name}: default must be REQUIRED or Opt")
            if default is REQUIRED and seen_optional:
                raise TypeError(f"{func.__name__}.{name}: required after optional")
            seen_optional = seen_optional or default is not REQUIRED
        _REGISTRY[func.__name__] = Method(func.__name__, module, func, params, deprecated_for)
        _ORDERED.clear()
        return func

    return register


def methods() -> dict[str, Method]:
    """The registry in 4.22's order: modules by name, each module's methods by name (the order
    pyramid's scan registers them in)."""
    if not _ORDERED:
        _ORDERED.update((m.name, m) for m in sorted(_REGISTRY.values(), key=lambda m: (m.module, m.name)))
    return _ORDERED


def find(patterns: list[str]) -> dict[str, Method]:
    """4.22's find_methods: names matching any glob, pattern by pattern, in registry order."""
    found: dict[str, Method] = {}
    registry = methods()
    for pattern in patterns:
        for name, method in registry.items():
            if fnmatch.fnmatchcase(name, pattern):
                found.setdefault(name, method)
    return found
