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
        # 4.22 lists a user's feed token before the API token it was created with; a user without
        # tokens (4.22's `default`) had a key on 1.x that no backend knows: null
        if isinstance(value, list) and not value:
            return None
        return value[-1] if isinstance(value, list) and isinstance(value[-1], str) else value


@converter("ip_addrs", "a user's IP addresses: get_ip's answer {user_ips: [{ip_addr, ip_range}]} -> "
                       "[ip_addr, ...], as a user object lists them (a `fetch:` reads it up)")
class _IpAddrs:
    @staticmethod
    def up(value: Any) -> Any:
        ips = value.get("user_ips") if isinstance(value, dict) else None
        if not isinstance(ips, list):
            return None
        return [i.get("ip_addr") for i in ips if isinstance(i, dict)]

    @staticmethod
    def down(value: Any) -> Any:
        return value


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
    # the name goes where 1.x kept it: `username` of a user object, `group_name` of a users group;
    # the whole object, where a `fetch:` read it (`user` / `user_group`), is the member itself
    if "name" not in entry:
        return entry
    out = {k: v for k, v in entry.items() if k not in ("name", "user", "user_group")}
    out["username" if entry.get("type") == "user" else "group_name"] = entry["name"]
    whole = entry.get("user") if entry.get("type") == "user" else entry.get("user_group")
    return {**whole, **out} if isinstance(whole, dict) else out


def _rc1_member_up(member: dict[str, Any]) -> dict[str, Any]:
    # a user member is a user object, a users-group member a group object: the name is in
    # `username` or `group_name`; nothing else of the object belongs in a permission entry
    name = member.get("name")  # the 1.x docs name a users group `name`; 1.7.2 says `group_name`
    if name is None:
        name = member.get("username") if member.get("type") == "user" else member.get("group_name")
    return {"name": name, "type": member.get("type"), "permission": member.get("permission")}


@converter("object_id", "RhodeCode 1.2/1.3 write answers: the new or changed object's `id` <-> that object")
class _ObjectId:
    @staticmethod
    def up(value: Any) -> Any:
        return value if isinstance(value, dict) else {"id": value}

    @staticmethod
    def down(value: Any) -> Any:
        # the object is already in the 1.3 shape (its type's rules ran first), where every id is `id`
        return value.get("id") if isinstance(value, dict) else value


_RC13_USER_MEMBER = ("type", "id", "username", "firstname", "lastname", "email", "active", "admin", "ldap",
                     "permission")


@converter("rc13_members", "RhodeCode 1.3 get_repo `members`: users {type, id, username, ..., ldap, permission}, "
                           "users groups {type, id, name, active, permission} <-> {name, type, permission} entries")
class _Rc13Members:
    @staticmethod
    def up(value: Any) -> Any:
        return _Rc1Members.up(value)  # the name is in `username` or `name`, as 1.x callers read it

    @staticmethod
    def down(value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [_rc13_member(m) if isinstance(m, dict) else m for m in _Rc1Members.down(value)]


def _rc13_member(member: dict[str, Any]) -> dict[str, Any]:
    # every field 1.3 sent, null where the member's own record could not be read
    if member.get("type") == "user":  # 1.3 called the user's LDAP DN `ldap` here, and sent nothing else
        renamed = {("ldap" if k == "ldap_dn" else k): v for k, v in member.items()}
        return {k: renamed.get(k) for k in _RC13_USER_MEMBER}
    return {"type": member.get("type"), "id": member.get("id"), "name": member.get("group_name"),
            "active": member.get("active"), "permission": member.get("permission")}


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


# --------------------------------------------------------------------------- pull requests and commits
# Used by the compositions of canonical.yaml (`composed:`): Kallithea's pull request and changeset
# methods (canonical extensions, in Kallithea's shapes) and RhodeCode 4.x's answer for each other.
# `up`: Kallithea's shape -> RhodeCode 4.x's; `down`: the other way.

_REVIEW_ORDER = ("rejected", "under_review", "approved", "not_reviewed")


@converter("kallithea_pull_request", "Kallithea pull request {pull_request_id, reviewers: [{username}], revisions, "
                                    "owner, org_ref_parts, ...} <-> RC4 pull request {source, target, author, ...}")
class _KallitheaPullRequest:
    @staticmethod
    def up(value: Any) -> Any:
        if not isinstance(value, dict) or "revisions" not in value:
            return value
        statuses = {s.get("reviewer"): s.get("status") for s in value.get("statuses") or [] if isinstance(s, dict)}
        reviewers = [{"reasons": [], "review_status": statuses.get(r.get("username"), "not_reviewed"),
                      "user": {"username": r.get("username")}} for r in value.get("reviewers") or []]
        url = value.get("url") or ""
        target_repo = url.split("/pull-request/")[0].strip("/") if "/pull-request/" in url else None
        return {
            "pull_request_id": value.get("pull_request_id"),
            "url": url,
            "title": value.get("title"),
            "description": value.get("description"),
            "status": "closed" if value.get("status") == "closed" else "new",
            "state": "created",
            "created_on": value.get("created_on"),
            "updated_on": value.get("updated_on"),
            "commit_ids": list(value.get("revisions") or []),
            "review_status": _overall_review(list(statuses.values())),
            "mergeable": {"status": "not_available", "message": "not_available"},
            "source": _ref_side(value.get("org_ref_parts"), value.get("org_repo_url"), None),
            "target": _ref_side(value.get("other_ref_parts"), None, target_repo),
            "merge": None,
            "author": {"username": value.get("owner")},
            "reviewers": reviewers,
        }

    @staticmethod
    def down(value: Any, comments: Any = None) -> Any:
        if not isinstance(value, dict) or "commit_ids" not in value:
            return value
        reviewers = [r for r in value.get("reviewers") or [] if isinstance(r, dict)]
        source, target = value.get("source") or {}, value.get("target") or {}
        return {
            "pull_request_id": value.get("pull_request_id"),
            "url": value.get("url"),
            "reviewers": [{"username": (r.get("user") or {}).get("username")} for r in reviewers],
            "revisions": list(value.get("commit_ids") or []),
            "owner": (value.get("author") or {}).get("username"),
            "title": value.get("title"),
            "description": value.get("description"),
            "org_repo_url": source.get("clone_url"),
            "org_ref_parts": _ref_parts(source.get("reference")),
            "other_ref_parts": _ref_parts(target.get("reference")),
            "status": "closed" if value.get("status") == "closed" else "new",
            "comments": [{"comment_id": c.get("comment_id"), "username": (c.get("comment_author") or {}).get("username"),
                          "text": c.get("comment_text")} for c in comments or [] if isinstance(c, dict)],
            "statuses": [{"status": r.get("review_status"), "modified_at": None,
                          "reviewer": (r.get("user") or {}).get("username")}
                         for r in reviewers if r.get("review_status") not in (None, "not_reviewed")],
            "created_on": value.get("created_on"),
            "updated_on": value.get("updated_on"),
        }


def _overall_review(statuses: list[Any]) -> str:
    for status in _REVIEW_ORDER:
        if status in statuses and (status != "approved" or all(s == "approved" for s in statuses)):
            return status
    return "not_reviewed"


def _ref_side(parts: Any, clone_url: Any, repository: Any) -> dict[str, Any]:
    kind, name, commit = (list(parts) + [None, None, None])[:3] if isinstance(parts, list) else (None, None, None)
    if repository is None and isinstance(clone_url, str):
        repository = clone_url.split("://", 1)[-1].split("/", 1)[-1] or None
    return {"clone_url": clone_url, "repository": repository,
            "reference": {"name": name, "type": kind, "commit_id": commit}}


def _ref_parts(reference: Any) -> list[Any]:
    ref = reference if isinstance(reference, dict) else {}
    return [ref.get("type"), ref.get("name"), ref.get("commit_id")]


@converter("kallithea_repo_pull_requests", "Kallithea get_repo(with_pullrequests) -> RC4 get_pull_requests of one "
                                          "status (`new` and `open` are Kallithea's `new`; any other status: none)")
class _KallitheaRepoPullRequests:
    @staticmethod
    def up(value: Any, status: Any = "new") -> Any:
        prs = value.get("pull_requests") if isinstance(value, dict) else None
        if not isinstance(prs, list):
            return []
        wanted = {"new": "new", "open": "new", "closed": "closed"}.get(status)
        return [_KallitheaPullRequest.up(p) for p in prs if isinstance(p, dict) and p.get("status") == wanted]

    @staticmethod
    def down(value: Any) -> Any:
        return value


_FILE_OPS = (("added", "A"), ("changed", "M"), ("removed", "D"))


@converter("kallithea_file_lists", "a changeset's changed files: Kallithea's `added`, `changed`, `removed` "
                                   "(paths) <-> RC4's `diff` entries ({filename, op: A/M/D, ...}, details=extended)")
class _KallitheaFileLists:
    @staticmethod
    def up(value: Any) -> Any:
        if not isinstance(value, dict) or not any(isinstance(value.get(k), list) for k, _ in _FILE_OPS):
            return value
        out = {k: v for k, v in value.items() if k not in ("added", "changed", "removed")}
        out["diff"] = [{"filename": path, "op": op, "stats": {"added": None, "deleted": None, "binary": None},
                        "raw_diff": None, "old_revision": None, "new_revision": None}
                       for key, op in _FILE_OPS for path in (value.get(key) or []) if isinstance(path, str)]
        return out

    @staticmethod
    def down(value: Any) -> Any:
        diff = value.get("diff") if isinstance(value, dict) else None
        if not isinstance(diff, list) or "added" in value:  # Kallithea's callers ask with details=extended
            return value
        entries = [d for d in diff if isinstance(d, dict)]
        out = dict(value)
        for key, op in _FILE_OPS:
            out[key] = [d.get("filename") for d in entries if d.get("op") == op]
        return out


@converter("kallithea_changesets", "Kallithea changesets {raw_id, short_id, revision, message, date, author} <-> "
                                  "RC4 commits (+ branch, parents, diff); with `limit` (up) or Kallithea's "
                                  "end/branch/date/reverse/with_file_list/max_revisions filters (down)")
class _KallitheaChangesets:
    @staticmethod
    def up(value: Any, limit: Any = None) -> Any:
        if not isinstance(value, list):
            return value
        commits = [{**{k: c.get(k) for k in ("raw_id", "short_id", "revision", "message", "date", "author")},
                    "branch": c.get("branch"), "parents": [], "diff": []} for c in value if isinstance(c, dict)]
        return commits[:limit] if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0 else commits

    @staticmethod
    def down(value: Any, end: Any = None, start_date: Any = None, end_date: Any = None, branch_name: Any = None,
             reverse: Any = False, with_file_list: Any = False, max_revisions: Any = None) -> Any:
        if not isinstance(value, list):
            return value
        out = []
        for c in value:
            if not isinstance(c, dict):
                continue
            if branch_name and c.get("branch") != branch_name:
                continue
            date = c.get("date") or ""
            if (start_date and date < start_date) or (end_date and date > end_date):
                continue
            kept = ("short_id", "raw_id", "revision", "message", "date", "author") + (("diff",) if with_file_list else ())
            out.append({k: c.get(k) for k in kept})  # `diff` becomes the file lists as a Kallithea changeset
            if end is not None and end in (c.get("raw_id"), c.get("short_id"), str(c.get("revision"))):
                break
        if isinstance(max_revisions, int) and not isinstance(max_revisions, bool) and max_revisions >= 0:
            out = out[-max_revisions:] if max_revisions else []
        return out[::-1] if reverse else out


@converter("usernames_not_in", "the usernames of a list (strings, {username} or {user: {username}} items) that "
                               "`others` lacks: the reviewers to add or remove")
class _UsernamesNotIn:
    @staticmethod
    def up(value: Any, others: Any = None) -> Any:
        mine = _usernames(value)
        theirs = set(_usernames(others))
        return [u for u in mine if u not in theirs]

    down = up


def _usernames(value: Any) -> list[str]:
    out = []
    for item in value if isinstance(value, list) else [value] if value is not None else []:
        if isinstance(item, dict):
            item = item.get("username") or (item.get("user") or {}).get("username")
        if isinstance(item, str) and item not in out:
            out.append(item)
    return out


@converter("reviewers_edited", "RC4 reviewers after Kallithea's edit_reviewers(add, remove): the new list of "
                               "{username} (up), or Kallithea's answer {added, already_present, removed} (down)")
class _ReviewersEdited:
    @staticmethod
    def up(value: Any, add: Any = None, remove: Any = None) -> Any:
        removed = set(_usernames(remove))
        current = [u for u in _usernames(value) if u not in removed]
        return [{"username": u} for u in current + [u for u in _usernames(add) if u not in current]]

    @staticmethod
    def down(value: Any, add: Any = None, remove: Any = None) -> Any:
        current = set(_usernames(value))
        wanted = _usernames(add)
        return {"added": [u for u in wanted if u not in current], "already_present": [u for u in wanted if u in current],
                "removed": _usernames(remove)}
