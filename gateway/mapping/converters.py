"""Value converters: the named escape hatch for rules a rename cannot express.

Each converter is a pair of small functions: `up` turns a dialect value into the
canonical one, `down` turns it back. A mapping file names a converter under
`values:`; the engine calls it. Values a converter does not recognise pass
through unchanged, so a converter never turns a good answer into an error.
"""
from __future__ import annotations

import re
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


@converter("pull_msg_repo_only", "`Pulled from `r`` (1.x, Kallithea, 4.0 - 4.10) <- 4.18+ `Pulled from url `u` on repo `r``")
class _PullMsgRepoOnly:
    @staticmethod
    def up(value: Any) -> Any:
        return value  # `Pulled from `r`` is itself a canonical text (RhodeCode 4.0 - 4.10)

    @staticmethod
    def down(value: Any) -> Any:
        m = _PULLED_FROM_URL.fullmatch(value) if isinstance(value, str) else None
        return f"Pulled from `{m['repo']}`" if m else value


_PULLED_FROM_URL = re.compile(r"Pulled from url `.*` on repo `(?P<repo>.*)`", re.DOTALL)


# --------------------------------------------------------------------------- RhodeCode 1.x
# Appended for mappings/rhodecode1.yaml. Names carry an `rc1_` prefix: they encode
# RhodeCode 1.x wording and must not be mistaken for general-purpose rules.

_CACHE_MODERN = re.compile(r"Cache for repository `(?P<repo>.*)` was invalidated", re.DOTALL)
_CACHE_RC1 = re.compile(r"Caches of repository `(?P<repo>.*)` was invalidated", re.DOTALL)
_NOT_LDAP = frozenset({"rhodecode", "internal", ""})  # extern_name of users of the built-in auth


@converter("rc1_cache_msg", "RhodeCode 1.7 `Caches of repository `r` was invalidated` <-> `Cache for repository `r` was invalidated`")
class _Rc1CacheMsg:
    @staticmethod
    def up(value: Any) -> Any:
        m = _CACHE_RC1.fullmatch(value) if isinstance(value, str) else None
        return f"Cache for repository `{m['repo']}` was invalidated" if m else value

    @staticmethod
    def down(value: Any) -> Any:
        m = _CACHE_MODERN.fullmatch(value) if isinstance(value, str) else None
        return f"Caches of repository `{m['repo']}` was invalidated" if m else value


@converter("rc1_ldap_dn", "RhodeCode 1.x user `ldap_dn: null` <- `extern_name` of a built-in (non-LDAP) account")
class _Rc1LdapDn:
    @staticmethod
    def up(value: Any) -> Any:
        return value

    @staticmethod
    def down(value: Any) -> Any:
        return None if isinstance(value, str) and value in _NOT_LDAP else value


@converter("one_token", "RhodeCode 1.x user `api_key` (one key) <-> RC4 `auth_tokens` (a list; the API token last)")
class _OneToken:
    @staticmethod
    def up(value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @staticmethod
    def down(value: Any) -> Any:
        # 4.22 lists a user's feed token before the API token it was created with
        return value[-1] if isinstance(value, list) and value and isinstance(value[-1], str) else value


@converter("rc1_members", "RhodeCode 1.x get_repo `members`: whole user / users-group objects with `type` and "
                         "`permission` <-> {name, type, permission} entries")
class _Rc1Members:
    @staticmethod
    def up(value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [_rc1_member_up(m) if isinstance(m, dict) else m for m in value]

    @staticmethod
    def down(value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [_rc1_member_down(m) if isinstance(m, dict) else m for m in value]


def _rc1_member_down(entry: dict[str, Any]) -> dict[str, Any]:
    # the name goes where 1.x kept it: `username` of a user object, `group_name` of a users group
    if "name" not in entry:
        return entry
    out = {k: v for k, v in entry.items() if k != "name"}
    out["username" if entry.get("type") == "user" else "group_name"] = entry["name"]
    return out


def _rc1_member_up(member: dict[str, Any]) -> dict[str, Any]:
    # a user member is a user object, a users-group member a group object: the name is in
    # `username` or `group_name`; nothing else of the object belongs in a permission entry
    name = member.get("name")  # the 1.x docs name a users group `name`; 1.7.2 says `group_name`
    if name is None:
        name = member.get("username") if member.get("type") == "user" else member.get("group_name")
    return {"name": name, "type": member.get("type"), "permission": member.get("permission")}


# --------------------------------------------------------------------------- Kallithea
# Appended for mappings/kallithea.yaml. Names carry a `kallithea_` prefix: they encode
# Kallithea 0.7 wording or shapes.

_K_AUTHOR = re.compile(r"(?P<name>.*?)\s*<(?P<email>[^<>]*)>\s*", re.DOTALL)


@converter("kallithea_author", "Kallithea get_changeset author {name, email} <-> canonical `Name <email>`")
class _KallitheaAuthor:
    @staticmethod
    def up(value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {"name", "email"}:
            name, email = value["name"] or "", value["email"] or ""
            if not email:
                return name  # e.g. the placeholder author {"name": "root@localhost", "email": ""}
            return f"{name} <{email}>" if name else f"<{email}>"
        return value

    @staticmethod
    def down(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        m = _K_AUTHOR.fullmatch(value)
        if m:
            return {"name": m["name"], "email": m["email"]}
        return {"name": value, "email": ""}


@converter("kallithea_repo_group_msg", "Kallithea `created new repo group `g`` <-> RhodeCode 4.x `Created new repo group `g``")
class _KallitheaRepoGroupMsg:
    @staticmethod
    def up(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("created new repo group `"):
            return "C" + value[1:]
        return value

    @staticmethod
    def down(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("Created new repo group `"):
            return "c" + value[1:]
        return value


@converter("lifetime_minutes", "Kallithea / RhodeCode 1.x gist lifetime: any value read as minutes (`\"60\"` -> 60, not a number -> -1) <-> the number")
class _LifetimeMinutes:
    @staticmethod
    def up(value: Any) -> Any:
        # their servers read the lifetime with safe_int(value, -1); RC4 validates an integer, so a string
        # (what kallithea-gist and rhodecode-gist send) is turned into the number those servers used
        if isinstance(value, bool):
            return -1
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            return -1

    @staticmethod
    def down(value: Any) -> Any:
        return value


@converter("kallithea_server_info", "Kallithea get_server_info {modules, py_version, platform, kallithea_version, "
                                   "git_version, git_path} <-> RC4's sections {rhodecode_app, python, platform, ...}")
class _KallitheaServerInfo:
    @staticmethod
    def up(value: Any) -> Any:
        if not isinstance(value, dict) or "kallithea_version" not in value:
            return value
        version = value.get("kallithea_version")
        return {
            "rhodecode_app": _section({"text": "", "rhodecode_version": version},
                                      {"text": f"Kallithea, version {version}", "rhodecode_version": version}),
            "python": _section({"version": value.get("py_version"), "executable": None}),
            "platform": _section({"name": value.get("platform"), "uuid": None}),
            "py_modules": _section([[m[0], {"version": m[1], "location": None}] for m in value.get("modules") or []
                                    if isinstance(m, list) and len(m) == 2]),
            "git": _section(value.get("git_version") or ""),
        }

    @staticmethod
    def down(value: Any) -> Any:
        if not isinstance(value, dict) or "rhodecode_app" not in value:
            return value
        app, python, platform = (_value(value, k) for k in ("rhodecode_app", "python", "platform"))
        modules = _value(value, "py_modules") or []
        return {
            "modules": [[m[0], m[1].get("version") if isinstance(m[1], dict) else m[1]] for m in modules
                        if isinstance(m, list) and len(m) == 2],
            "py_version": python.get("version") if isinstance(python, dict) else None,
            "platform": platform.get("name") if isinstance(platform, dict) else None,
            "kallithea_version": app.get("rhodecode_version") if isinstance(app, dict) else None,
            "git_version": _value(value, "git") or None,
            "git_path": None,  # RhodeCode does not say where its git is
        }


def _section(value: Any, human: Any = None) -> dict[str, Any]:
    """One section of RC4's server information: {state, human_value, value}."""
    return {"state": {"message": "", "type": "ok"}, "human_value": value if human is None else human, "value": value}


def _value(info: dict[str, Any], section: str) -> Any:
    part = info.get(section)
    return part.get("value") if isinstance(part, dict) else None
