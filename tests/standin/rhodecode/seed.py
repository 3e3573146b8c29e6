"""The initial world of the stand-in, derived from the recorded answers.

The world is the real server as it was when the recorded run began: the fixture
repositories and their VCS content, the objects earlier runs left behind, their
permissions, pull requests, comments, gists and audit log. Everything is read from the
answers; nothing is written out here. The rules, per kind of object:

* the recorded run began at the server clock of the first `get_server_info` answer (boot
  time + uptime; that call came before any change). Repositories, pull requests, comments,
  gists and audit entries whose recorded creation time is earlier existed before the run;
  later ones are the run's own and are not part of the initial world;
* users, user groups and repository groups carry no creation time: the ones the run's
  `create_*` answers returned (and the personal group `create_user` made) are the run's;
* each object starts as its FIRST observation in request-id order (tokens from an
  observation where they are not masked);
* VCS content: a commit is what its recorded answers show (basic, `extended` and `full`
  details, as far as recorded), a repository holds the history behind its last commit, its
  refs are its recorded `get_repo_refs` (or the refs its pull requests name), and a file
  tree is what `get_repo_nodes` / `get_repo_file` / `get_repo_fts_tree` showed for a commit;
* the id a new object gets: ids continue where the recorded run's own objects start (the
  real database's sequences had moved on past objects earlier runs deleted).

The result is plain JSON-like data with the recordings' placeholders still in it; build.py
makes a stand-in's world of it after `recordings.substitute`.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any, Iterator

from . import recordings
from .model import from_epoch
from .recordings import Example

EMPTY_COMMIT_ID = "0" * 40
MASKED = "*" * 40


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _results() -> Iterator[tuple[Example, Any]]:
    """(example, result) of every successful recorded answer, in request-id order."""
    for ex in recordings.examples():
        response = ex.response
        if ex.http_status == 200 and isinstance(response, dict) and response.get("error") is None:
            yield ex, response.get("result")


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _dicts(v)
    elif isinstance(value, list):
        for v in value:
            yield from _dicts(v)


def _observations(test: Any) -> Iterator[tuple[Example, dict[str, Any]]]:
    for ex, result in _results():
        for obj in _dicts(result):
            if test(obj):
                yield ex, obj


def _is_user(o: dict) -> bool:
    return "auth_tokens" in o and "user_id" in o and "extern_type" in o


def _is_user_group(o: dict) -> bool:
    return "users_group_id" in o and "group_name" in o


def _is_repo_group(o: dict) -> bool:
    return "group_id" in o and "parent_group" in o


def _is_repo(o: dict) -> bool:
    return "repo_id" in o and "repo_type" in o


def _is_pull_request(o: dict) -> bool:
    return "pull_request_id" in o and "source" in o and "target" in o


def _is_comment(o: dict) -> bool:
    return "comment_id" in o and "comment_text" in o


def _is_gist(o: dict) -> bool:
    return "gist_id" in o and "access_id" in o


def _is_audit_entry(o: dict) -> bool:
    return "action" in o and "action_date" in o and "user_ip" in o


def _first_by(observations: Iterator[tuple[Example, dict]], key: str) -> dict[Any, tuple[Example, dict]]:
    first: dict[Any, tuple[Example, dict]] = {}
    for ex, obj in observations:
        first.setdefault(obj[key], (ex, obj))
    return first


@functools.cache
def run_started_epoch() -> float:
    """When the recorded run began: the server clock (boot time + uptime) of the first
    `get_server_info` answer."""
    for ex, result in _results():
        if ex.method == "get_server_info":
            value = result["uptime"]["value"]
            return value["boot_time"] + value["uptime"]
    raise LookupError("no get_server_info answer in the recordings")


@functools.cache
def run_started() -> dt.datetime:
    """The same moment in the server's local time (the recorded server ran on UTC)."""
    return from_epoch(run_started_epoch())


def _before_run(text: str | None) -> bool:
    return text is not None and parse_time(text) < run_started()


# --------------------------------------------------------------------------- users and groups


def _created_ids() -> dict[str, set[Any]]:
    """Ids of the users, user groups and repository groups the recorded run created."""
    users, user_groups, repo_groups, personal = set(), set(), set(), set()
    for ex, result in _results():
        if ex.method == "create_user":
            users.add(result["user"]["user_id"])
            if ex.args.get("create_personal_repo_group") in (True, "true", "True", 1):
                personal.add(result["user"]["username"])
        elif ex.method == "create_user_group":
            user_groups.add(result["user_group"]["users_group_id"])
        elif ex.method == "create_repo_group":
            repo_groups.add(result["repo_group"]["group_id"])
    for _ex, obj in _observations(_is_repo_group):
        if obj["group_name"] in personal:
            repo_groups.add(obj["group_id"])
    return {"users": users, "user_groups": user_groups, "repo_groups": repo_groups}


def _users(created: set[int]) -> tuple[list[dict], list[str]]:
    first: dict[int, dict] = {}
    for _ex, obj in _observations(_is_user):
        if obj["user_id"] not in created and MASKED not in obj["auth_tokens"]:
            first.setdefault(obj["user_id"], obj)
    global_perms: dict[int, list[str]] = {}
    default_perms: list[str] = []
    order: list[int] = []
    for ex, result in _results():
        if ex.method == "get_user":
            global_perms.setdefault(result["user_id"], result["permissions"]["global"])
            if not result["admin"] and not default_perms:
                default_perms = result["permissions"]["global"]
        elif ex.method == "get_users" and not order:
            order = [u["user_id"] for u in result]
    api_tokens = set(recordings.TOKEN_OF_CALLER.values())
    users = []
    for user_id, obj in first.items():
        user = {k: v for k, v in obj.items() if k != "auth_tokens"}
        user["tokens"] = [[t, "api" if t in api_tokens else "feed"] for t in obj["auth_tokens"]]
        user["global_perms"] = global_perms.get(user_id)
        users.append(user)
    keys = _sort_keys([first[i]["username"] for i in order if i in first])
    for user in users:
        user["sort_key"] = keys.get(user["username"], user["username"])
    return users, default_perms


def _sort_keys(names_in_server_order: list[str]) -> dict[str, str]:
    """Sort keys that reproduce `get_users`' recorded order (the server sorts by username;
    a fixture user renamed after recording keeps the place of its original name)."""
    keys: dict[str, str] = {}
    previous = ""
    for i, name in enumerate(names_in_server_order):
        following = names_in_server_order[i + 1] if i + 1 < len(names_in_server_order) else None
        if previous < name and (following is None or name < following):
            key = name
        else:  # out of place: just after the previous key
            key = previous + "\x00"
        keys[name] = previous = key
    return keys


def _user_groups(created: set[int]) -> list[dict]:
    first: dict[int, dict] = {}
    for _ex, obj in _observations(_is_user_group):
        if obj["users_group_id"] not in created:
            if obj["users_group_id"] not in first or MASKED in str(first[obj["users_group_id"]]):
                first[obj["users_group_id"]] = obj
    permissions = {}
    for ex, result in _results():
        if ex.method == "get_user_group":
            permissions.setdefault(result["users_group_id"], result["permissions"])
    groups = []
    for group_id, obj in first.items():
        groups.append({"users_group_id": group_id, "group_name": obj["group_name"],
                       "group_description": obj["group_description"], "active": obj["active"],
                       "owner": obj["owner"], "sync": obj["sync"],
                       "members": [u["username"] for u in obj.get("users", [])],
                       "permissions": permissions.get(group_id)})
    return groups


def _repo_groups(created: set[int]) -> list[dict]:
    first: dict[int, dict] = {}
    for _ex, obj in _observations(_is_repo_group):
        if obj["group_id"] not in created:
            first.setdefault(obj["group_id"], obj)
    permissions = {}
    for ex, result in _results():
        if ex.method == "get_repo_group":
            permissions.setdefault(result["group_id"], result["permissions"])
    return [{**{k: v for k, v in obj.items() if k not in ("repositories", "permissions")},
             "permissions": permissions.get(gid)} for gid, obj in first.items()]


# --------------------------------------------------------------------------- repositories and VCS


def _repos() -> list[dict]:
    first = {rid: obj for rid, (_ex, obj) in _first_by(_observations(_is_repo), "repo_id").items()
             if _before_run(obj["created_on"])}
    full: dict[int, dict] = {}
    for ex, result in _results():
        if ex.method == "get_repo" and result["repo_id"] in first:
            full.setdefault(result["repo_id"], result)
    repos = []
    for rid, obj in first.items():
        repo = {k: v for k, v in obj.items() if k not in ("permissions", "followers", "last_changeset")}
        changeset = obj["last_changeset"]
        repo["last_changeset"] = changeset
        # its key order tells how the server last stored its commit cache (shapes.LAST_CHANGESET)
        repo["changeset_flipped"] = list(changeset).index("raw_id") == 2
        if rid in full:
            repo["permissions"] = full[rid]["permissions"]
            repo["followers"] = [u["username"] for u in full[rid]["followers"]]
        repos.append(repo)
    return repos


def _commits() -> dict[str, dict]:
    """raw_id -> {"basic", "extended", "full", "refs"} of every commit recorded before the run."""
    commits: dict[str, dict] = {}

    def add(obj: dict, details: str | None) -> None:
        raw_id = obj["raw_id"]
        if raw_id == EMPTY_COMMIT_ID or not _before_run(obj.get("date")):
            return
        entry = commits.setdefault(raw_id, {"basic": None, "extended": None, "full": None, "refs": None})
        if entry["basic"] is None:
            entry["basic"] = {k: obj[k] for k in ("raw_id", "short_id", "author", "date", "message", "branch",
                                                  "parents", "revision")}
        if details == "extended" and entry["extended"] is None:
            entry["extended"] = obj["diff"]
        elif details == "full":
            entry["full"] = entry["full"] if entry["full"] is not None else obj["diff"]
            entry["refs"] = entry["refs"] if entry["refs"] is not None else obj.get("refs")

    for ex, result in _results():
        if ex.method == "get_repo_changeset":
            add(result, ex.args.get("details", "basic"))
        elif ex.method == "get_repo_changesets":
            for obj in result:
                add(obj, ex.args.get("details", "basic"))
    for _ex, obj in _observations(lambda o: "last_changeset" in o and _is_repo(o)):
        add(obj["last_changeset"], None)
    return commits


def _history(head: str | None, commits: dict[str, dict]) -> list[str]:
    """The commits behind `head`, oldest first (parents before children)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(raw_id: str) -> None:
        if raw_id in seen or raw_id == EMPTY_COMMIT_ID:
            return
        seen.add(raw_id)
        basic = (commits.get(raw_id) or {}).get("basic") or {}
        for parent in basic.get("parents", []):
            visit(parent["raw_id"])
        order.append(raw_id)

    if head:
        visit(head)
    return order


def _repo_content(repos: list[dict], commits: dict[str, dict], pull_requests: list[dict]) -> dict[str, dict]:
    recorded_refs: dict[str, dict] = {}
    for ex, result in _results():
        if ex.method == "get_repo_refs":
            recorded_refs.setdefault(ex.args["repoid"], result)
    content = {}
    for repo in repos:
        name, head = repo["repo_name"], repo["last_changeset"]["raw_id"]
        history = _history(head if head != EMPTY_COMMIT_ID else None, commits)
        refs = recorded_refs.get(name)
        if refs is None:
            refs = {"branches_closed": {}, "bookmarks": {}, "branches": {}, "tags": {}}
            for pr in pull_requests:  # the refs this repository's pull requests name
                for side in (pr["target"], pr["source"]):
                    if side["repository"] == name and side["reference"]["type"] == "branch":
                        refs["branches"][side["reference"]["name"]] = side["reference"]["commit_id"]
            named = set(refs["branches"])
            for raw_id in history:  # branch heads the commits themselves name (the newest wins)
                branch = (commits.get(raw_id, {}).get("basic") or {}).get("branch")
                if branch and branch not in named:
                    refs["branches"][branch] = raw_id
            if history and repo["repo_type"] == "hg":
                refs["tags"]["tip"] = history[-1]
        content[name] = {"commits": history, "refs": refs}
    return content


def _trees(content: dict[str, dict], commits: dict[str, dict]) -> dict[str, dict[str, dict]]:
    """commit id -> path -> node info, from the recorded node and file answers."""
    def resolve(repo: str, rev: str) -> str | None:
        repo_content = content.get(repo)
        if repo_content is None:
            return None
        if rev in repo_content["commits"]:
            return rev
        if rev == "tip" and repo_content["commits"]:
            return repo_content["commits"][-1]
        for kind in ("branches", "tags", "bookmarks"):
            if rev in repo_content["refs"].get(kind, {}):
                return repo_content["refs"][kind][rev]
        return None

    trees: dict[str, dict[str, dict]] = {}

    def merge(commit: str | None, node: dict, content_known: bool) -> None:
        if commit is None:
            return
        entry = trees.setdefault(commit, {}).setdefault(node["name"], {"name": node["name"]})
        for key in ("type", "size", "md5", "binary", "mimetype", "extension", "lines"):
            if node.get(key) is not None and entry.get(key) is None:
                entry[key] = node[key]
        if content_known and node.get("content") is not None:
            entry["content"] = node["content"]
        entry.setdefault("type", "file")

    for ex, result in _results():
        if ex.method == "get_repo_nodes":
            commit = resolve(ex.args["repoid"], ex.args["revision"])
            for node in result:
                merge(commit, node, ex.args.get("details") == "full")
        elif ex.method == "get_repo_file" and isinstance(result, dict):
            merge(resolve(ex.args["repoid"], ex.args["commit_id"]), result, ex.args.get("details") == "full")
        elif ex.method == "get_repo_fts_tree":
            commit = resolve(ex.args["repoid"], ex.args["commit_id"])
            for node in result:
                merge(commit, {**node, "type": "file"}, False)
    return trees


# --------------------------------------------------------------------------- reviews, comments, gists, audit


def _pull_requests() -> list[dict]:
    return [obj for _pid, (_ex, obj) in _first_by(_observations(_is_pull_request), "pull_request_id").items()
            if _before_run(obj["created_on"])]


def _comments(pull_requests: list[dict]) -> list[dict]:
    target_of = {pr["pull_request_id"]: pr["target"]["repository"] for pr in pull_requests}
    comments = []
    for cid, (ex, obj) in _first_by(_observations(_is_comment), "comment_id").items():
        if not _before_run(obj["comment_created_on"]):
            continue
        status = obj.get("comment_status")
        if isinstance(status, list):
            status = [status[0]["status"], status[0]["status_id"]] if status else None
        else:
            status = [status["status"], None] if status else None
        repo = ex.args.get("repoid") if ex.method == "get_repo_comments" else None
        comments.append({"comment_id": cid, "text": obj["comment_text"], "type": obj["comment_type"],
                         "version": obj["comment_last_version"], "f_path": obj["comment_f_path"],
                         "lineno": obj["comment_lineno"], "commit_id": obj["comment_commit_id"],
                         "pull_request_id": obj["comment_pull_request_id"],
                         "repo": repo or target_of.get(obj["comment_pull_request_id"]),
                         "resolved_by": (obj["comment_resolved_by"] or {}).get("comment_id"),
                         "created_on": obj["comment_created_on"], "author": obj["comment_author"]["username"],
                         "status": status})
    return comments


def _gists(users: list[dict]) -> list[dict]:
    by_token = {t: u["username"] for u in users for t, _role in u["tokens"]}
    owners: dict[int, str] = {}
    for ex, result in _results():
        if ex.method == "get_gists":
            owner = ex.args.get("userid") or by_token.get(recordings.TOKEN_OF_CALLER.get(ex.caller, ""))
            for gist in result:
                owners.setdefault(gist["gist_id"], owner)
    gists = []
    for gid, (_ex, obj) in _first_by(_observations(_is_gist), "gist_id").items():
        if _before_run(obj["created_on"]):
            gists.append({**obj, "owner": owners.get(gid), "files": {}})
    return gists


def _audit() -> list[dict]:
    seen: dict[tuple, dict] = {}
    for _ex, obj in _observations(_is_audit_entry):
        if _before_run(obj["action_date"]):
            seen.setdefault(tuple(obj.values()), obj)
    return sorted(seen.values(), key=lambda e: e["action_date"])


# --------------------------------------------------------------------------- ids, settings, server


def _next_ids(initial: dict[str, set[int]], created: dict[str, set[int]]) -> dict[str, int]:
    observed = {
        "repo": {o["repo_id"] for _e, o in _observations(_is_repo)},
        "pull_request": {o["pull_request_id"] for _e, o in _observations(_is_pull_request)},
        "comment": {o["comment_id"] for _e, o in _observations(_is_comment)},
        "gist": {o["gist_id"] for _e, o in _observations(_is_gist)},
        "status": {s["status_id"] for _e, o in _observations(_is_comment)
                   if isinstance(o.get("comment_status"), list) for s in o["comment_status"]},
    }
    new = {kind: ids - initial.get(kind, set()) for kind, ids in observed.items()}
    new.update({"user": created["users"], "user_group": created["user_groups"],
                "repo_group": created["repo_groups"]})
    ids = {}
    for kind, fresh in new.items():
        known = initial.get(kind, set())
        ids[kind] = min(fresh) if fresh else max(known, default=0) + 1
    return ids


def _permission_map_order() -> dict[str, list[str]]:
    """Object names in the order the first `get_user` answers listed them (Python 2 dict order
    of the original names, which the stand-in cannot compute for renamed fixtures)."""
    order: dict[str, dict[str, None]] = {"repositories": {}, "repositories_groups": {}, "user_groups": {}}
    for ex, result in _results():
        if ex.method == "get_user":
            for kind, names in order.items():
                for name in result["permissions"][kind]:
                    names.setdefault(name)
    return {kind: list(names) for kind, names in order.items()}


def _global_vcs_settings() -> dict[str, Any]:
    """The server-wide VCS settings: a full `get_repo_settings` answer of a repository that
    still inherited them (before any `set_repo_settings` on it)."""
    changed: set[str] = set()
    for ex, result in _results():
        if ex.method == "set_repo_settings":
            changed.add(ex.args["repoid"])
        elif ex.method == "get_repo_settings" and "key" not in ex.args and ex.args["repoid"] not in changed:
            return result
    raise LookupError("no get_repo_settings answer of an inheriting repository")


def _first_result(method: str) -> Any:
    for ex, result in _results():
        if ex.method == method:
            return result
    raise LookupError(f"no successful {method} answer in the recordings")


def _error_page() -> str:
    for exchange in recordings.envelope_exchanges():
        response = exchange["response"]
        if response["status_line"].split()[1] == "500" and "html" in (response.get("content_type") or ""):
            return re.sub(r"exceptions/\d+\">\d+<", "exceptions/<EXCEPTION_ID>\"><EXCEPTION_ID><",
                          response["body_text"])
    raise LookupError("no HTML error page in _envelope.json")


@functools.cache
def seed() -> dict[str, Any]:
    """The initial world as plain data (placeholders not yet substituted)."""
    created = _created_ids()
    users, default_perms = _users(created["users"])
    user_groups = _user_groups(created["user_groups"])
    repo_groups = _repo_groups(created["repo_groups"])
    repos = _repos()
    commits = _commits()
    pull_requests = _pull_requests()
    content = _repo_content(repos, commits, pull_requests)
    comments = _comments(pull_requests)
    gists = _gists(users)
    initial = {"repo": {r["repo_id"] for r in repos},
               "pull_request": {p["pull_request_id"] for p in pull_requests},
               "comment": {c["comment_id"] for c in comments},
               "gist": {g["gist_id"] for g in gists},
               "status": {c["status"][1] for c in comments if c["status"] and c["status"][1]},
               "user": {u["user_id"] for u in users},
               "user_group": {g["users_group_id"] for g in user_groups},
               "repo_group": {g["group_id"] for g in repo_groups}}
    return {
        "run_started": run_started().isoformat(),
        "run_started_epoch": run_started_epoch(),
        "users": users,
        "default_global_perms": default_perms,
        "user_groups": user_groups,
        "repo_groups": repo_groups,
        "repos": repos,
        "commits": commits,
        "repo_content": content,
        "trees": _trees(content, commits),
        "pull_requests": pull_requests,
        "comments": comments,
        "gists": gists,
        "audit": _audit(),
        "next_ids": _next_ids(initial, created),
        "permission_map_order": _permission_map_order(),
        "global_vcs_settings": _global_vcs_settings(),
        "server_info": _first_result("get_server_info"),
        "repo_store": _first_result("get_repo_store")["path"],
        "error_page": _error_page(),
    }
