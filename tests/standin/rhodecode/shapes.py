"""Objects rendered as RhodeCode CE 4.22 renders them, keys in the server's order.

4.22 runs on Python 2.7: its dicts iterate in hash order, which is what the JSON answers
show. Each object of a fixed shape is built here with the keys in that recorded order.
"""
from __future__ import annotations

from typing import Any

from . import perms, py2
from .model import AuditEntry, Comment, Gist, PullRequest, Repo, RepoGroup, User, UserGroup, format_time, from_epoch
from .vcs import EMPTY_COMMIT_ID, Commit
from .world import World

MASK = "*" * 40

# A repository's cached last commit. 4.22 keeps it as JSON text in the database: each time the
# cache is stored again unchanged, the dict is rebuilt from the stored text, and because
# rebuilding a Python 2 dict from its own iteration order lands these nine keys in the other
# of two orders, the order alternates. A freshly computed cache reads back in the first.
LAST_CHANGESET = (
    ("short_id", "author", "parents", "raw_id", "branch", "date", "updated_on", "message", "revision"),
    ("short_id", "author", "raw_id", "branch", "updated_on", "date", "parents", "message", "revision"),
)
# A repository's own VCS settings (set_repo_settings with inherit_global_settings=false)
REPO_VCS_SETTINGS = (
    "hooks_changegroup_push_logger", "rhodecode_git_close_branch_before_merging", "rhodecode_use_outdated_comments",
    "rhodecode_git_use_rebase_for_merging", "extensions_evolve", "extensions_topic", "experimental_evolution",
    "experimental_evolution_exchange", "phases_publish", "hooks_outgoing_pull_logger", "extensions_largefiles",
    "rhodecode_pr_merge_enabled", "rhodecode_hg_close_branch_before_merging", "rhodecode_diff_cache",
    "hooks_changegroup_repo_size", "rhodecode_hg_use_rebase_for_merging")


# --------------------------------------------------------------------------- users


def user(u: User, secrets: bool) -> dict[str, Any]:
    """User.get_api_data: the tokens only with `secrets` (super-admin callers), else one mask."""
    return {
        "username": u.username, "user_id": u.user_id, "description": u.description, "firstname": u.firstname,
        "last_activity": u.last_activity, "admin": u.admin, "lastname": u.lastname,
        "ip_addresses": list(u.ip_addresses), "emails": [u.email], "language": u.language,
        "auth_tokens": [t.value for t in u.tokens] if secrets else [MASK], "last_login": u.last_login,
        "extern_type": u.extern_type, "active": u.active, "extern_name": u.extern_name, "email": u.email,
    }


def user_with_permissions(world: World, u: User) -> dict[str, Any]:
    """get_user: the user plus its permission map, twice (`permissions` and `permissions_summary`)."""
    summary = permission_map(world, u)
    data = user(u, secrets=True)
    return {
        "username": data["username"], "user_id": u.user_id, "description": u.description,
        "firstname": u.firstname, "last_activity": u.last_activity, "admin": u.admin, "lastname": u.lastname,
        "ip_addresses": data["ip_addresses"], "permissions_summary": summary, "emails": data["emails"],
        "language": u.language, "auth_tokens": data["auth_tokens"], "last_login": u.last_login,
        "extern_type": u.extern_type, "active": u.active, "extern_name": u.extern_name, "email": u.email,
        "permissions": permission_map(world, u),
    }


def permission_map(world: World, u: User) -> dict[str, Any]:
    return {
        "repository_branches": {},
        "global": list(world.admin_global_perms if u.admin else u.global_perms),
        "repositories": {r.name: perms.repo_perm(world, u, r)
                         for r in perms.by_rank(world.repos.values(), lambda r: r.repo_id)},
        "repositories_groups": {g.name: perms.repo_group_perm(world, u, g)
                                for g in perms.by_rank(world.repo_groups.values(), lambda g: g.group_id)},
        "user_groups": {g.name: perms.user_group_perm(world, u, g)
                        for g in perms.by_rank(world.user_groups.values(), lambda g: g.users_group_id)},
    }


def _full_name(u: User) -> str:
    return f"{u.firstname} {u.lastname}"


def comment_author(u: User) -> dict[str, Any]:
    """The author of a commit comment: more fields, tokens always masked."""
    return {
        "username": u.username,
        "full_name_or_username": _full_name(u) if u.firstname and u.lastname else u.username,
        "full_name": _full_name(u), "firstname": u.firstname, "lastname": u.lastname,
        "ip_addresses": list(u.ip_addresses), "last_activity": u.last_activity,
        "full_contact": f"{_full_name(u)} <{u.email}>", "active": u.active, "emails": [u.email],
        "extern_type": u.extern_type, "description": u.description, "user_id": u.user_id,
        "language": u.language, "admin": u.admin, "extern_name": u.extern_name, "last_login": u.last_login,
        "short_contact": _full_name(u), "auth_tokens": [MASK], "email": u.email,
    }


def pr_user(u: User) -> dict[str, Any]:
    return {"username": u.username, "user_id": u.user_id, "description": u.description,
            "firstname": u.firstname, "lastname": u.lastname, "emails": [u.email], "email": u.email}


def pr_comment_author(u: User) -> dict[str, Any]:
    return {"username": u.username,
            "full_name_or_username": _full_name(u) if u.firstname and u.lastname else u.username,
            "active": u.active}


# --------------------------------------------------------------------------- groups


def user_group(world: World, g: UserGroup, secrets: bool, members_by_id: bool = False) -> dict[str, Any]:
    owner = world.users[g.owner_id]
    members = sorted(g.members) if members_by_id else g.members
    return {
        "users": [user(world.users[uid], secrets) for uid in members], "owner_email": owner.email,
        "sync": g.sync, "group_name": g.name, "owner": owner.username, "users_group_id": g.users_group_id,
        "active": g.active, "group_description": g.description,
    }


def user_group_full(world: World, g: UserGroup) -> dict[str, Any]:
    """get_user_group: members (tokens masked), permissions and the group's own permissions."""
    data = user_group(world, g, secrets=False)
    rows = perms.entries(world, g.owner_id, g.user_perms, g.group_perms, "usergroup.admin")
    summary = {
        "repositories_groups": {rg.name: perm for rg in perms.by_rank(world.repo_groups.values(), lambda x: x.group_id)
                                for gid, perm in rg.group_perms.items() if gid == g.users_group_id},
        "repositories": {r.name: perm for r in perms.by_rank(world.repos.values(), lambda x: x.repo_id)
                         for gid, perm in r.group_perms.items() if gid == g.users_group_id},
    }
    return {
        "users": data["users"], "owner_email": data["owner_email"], "sync": g.sync,
        "permissions_summary": summary, "group_name": g.name, "owner": data["owner"],
        "users_group_id": g.users_group_id, "active": g.active, "group_description": g.description,
        "permissions": permission_entries(rows),
    }


def permission_entries(rows: list[tuple[str, str, str, str]]) -> list[dict[str, str]]:
    return [{"origin": o, "type": t, "name": n, "permission": p} for o, t, n, p in rows]


def repo_group(world: World, g: RepoGroup, with_permissions: bool = False) -> dict[str, Any]:
    data = {
        "group_description": g.description,
        "repositories": [r.name for r in sorted(world.repos.values(), key=lambda r: r.repo_id)
                         if r.group_name == g.name],
        "group_name": g.name, "parent_group": g.parent, "owner": world.users[g.owner_id].username,
        "group_id": g.group_id,
    }
    if with_permissions:
        data["permissions"] = permission_entries(
            perms.entries(world, g.owner_id, g.user_perms, g.group_perms, "group.admin"))
    return data


# --------------------------------------------------------------------------- repositories


def commit_basic(c: Commit) -> dict[str, Any]:
    """Commit.__json__ fields."""
    return {"raw_id": c.raw_id, "short_id": c.short_id, "author": c.author, "date": c.date,
            "message": c.message, "branch": c.branch, "parents": [{"raw_id": p} for p in c.parents],
            "revision": c.revision}


EMPTY_COMMIT = {"raw_id": EMPTY_COMMIT_ID, "short_id": EMPTY_COMMIT_ID[:12], "author": "",
                "date": "1970-01-01T00:00:00", "message": "", "branch": None, "parents": [], "revision": -1}


def last_changeset(world: World, r: Repo) -> dict[str, Any]:
    commit = world.commits.get(r.cache.commit_id) if r.cache.commit_id else None
    values = dict(commit_basic(commit) if commit else EMPTY_COMMIT, updated_on=r.cache.updated_on)
    return {k: values[k] for k in LAST_CHANGESET[r.cache.flipped]}


def repo(world: World, r: Repo, secrets: bool) -> dict[str, Any]:
    """Repository.get_api_data (get_repos, update_repo, get_user_locks)."""
    fork = world.repos.get(r.fork_of_id) if r.fork_of_id else None
    locker = world.users.get(r.lock.user_id) if r.lock else None
    return {
        "landing_rev": r.landing_rev.split(":", 1), "repo_type": r.repo_type, "repo_id": r.repo_id,
        "description": r.description, "lock_reason": r.lock.reason if r.lock else None,
        "url": world.repo_url(r.name),
        "locked_date": format_time(from_epoch(float(r.lock.since))) if r.lock else None,
        "push_uri": r.push_uri, "enable_downloads": r.enable_downloads, "private": r.private,
        "last_changeset": last_changeset(world, r), "clone_uri": r.clone_uri, "created_on": r.created_on,
        "fork_of": fork.name if fork else None, "enable_locking": r.enable_locking,
        "locked_by": user(locker, secrets) if locker else None, "owner": world.users[r.owner_id].username,
        "enable_statistics": r.enable_statistics, "fork_of_id": fork.repo_id if fork else None,
        "repo_name": r.name,
    }


def repo_full(world: World, r: Repo, secrets: bool) -> dict[str, Any]:
    """get_repo: the repository plus its followers and permission list."""
    data = repo(world, r, secrets)
    rows = perms.entries(world, r.owner_id, r.user_perms, r.group_perms, "repository.admin")
    return {
        "repo_type": r.repo_type, "private": r.private, "last_changeset": data["last_changeset"],
        "created_on": r.created_on, "enable_locking": r.enable_locking, "owner": data["owner"],
        "landing_rev": data["landing_rev"], "repo_id": r.repo_id, "enable_statistics": r.enable_statistics,
        "push_uri": r.push_uri, "clone_uri": r.clone_uri,
        "followers": [user(world.users[uid], secrets) for uid in r.followers],
        "repo_name": r.name, "description": r.description, "fork_of": data["fork_of"],
        "locked_date": data["locked_date"], "permissions": permission_entries(rows),
        "enable_downloads": r.enable_downloads, "lock_reason": data["lock_reason"], "url": data["url"],
        "locked_by": data["locked_by"], "fork_of_id": data["fork_of_id"],
    }


def changeset(c: Commit | None, diff: list[dict[str, Any]], refs: dict[str, Any] | None) -> dict[str, Any]:
    """get_repo_changeset(s): a commit with its diff (and its refs for details=full)."""
    values = commit_basic(c) if c else dict(EMPTY_COMMIT)
    data = {"raw_id": values["raw_id"], "branch": values["branch"], "short_id": values["short_id"],
            "author": values["author"], "date": values["date"], "parents": values["parents"],
            "message": values["message"], "diff": diff}
    if refs is not None:
        data["refs"] = {"bookmarks": refs.get("bookmarks", []), "branches": refs.get("branches", []),
                        "tags": refs.get("tags", [])}
    data["revision"] = values["revision"]
    return data


def diff_entry(filename: str, op: str, new_revision: Any = None, old_revision: Any = None,
               raw_diff: Any = None, stats: dict[str, Any] | None = None) -> dict[str, Any]:
    stats = stats or {"deleted": None, "binary": None, "added": None}
    return {"raw_diff": raw_diff, "old_revision": old_revision,
            "stats": {"deleted": stats["deleted"], "binary": stats["binary"], "added": stats["added"]},
            "new_revision": new_revision, "filename": filename, "op": op}


def node(info: dict[str, Any], content: bool, max_bytes: Any) -> dict[str, Any]:
    """An entry of get_repo_nodes."""
    if info.get("type") == "dir":
        data = {"binary": None, "name": info["name"], "extension": None, "md5": None, "type": "dir", "size": None}
        return {"content": None, **data} if content else data
    data = {"mimetype": info.get("mimetype"), "binary": info.get("binary"), "name": info["name"],
            "extension": info.get("extension"), "lines": info.get("lines")}
    if content:
        too_big = max_bytes is not None and (info.get("size") or 0) > max_bytes
        data["content"] = None if too_big else info.get("content")
    data.update({"size": info.get("size"), "type": "file", "md5": info.get("md5")})
    return data


def file(info: dict[str, Any], details: str, max_bytes: Any) -> dict[str, Any]:
    """get_repo_file."""
    if details in ("minimal", "minimal+search"):
        return {"type": "file", "name": info["name"]}
    data = {"mimetype": info.get("mimetype"), "binary": info.get("binary"), "name": info["name"],
            "extension": info.get("extension")}
    if details == "full":
        too_big = max_bytes is not None and (info.get("size") or 0) > max_bytes
        data["content"] = None if too_big else info.get("content")
        data["lines"] = 0 if too_big else info.get("lines")
    data.update({"md5": info.get("md5"), "type": "file", "size": info.get("size")})
    return data


def fts_file(info: dict[str, Any]) -> dict[str, Any]:
    return {"binary": info.get("binary"), "size": info.get("size"), "name": info["name"],
            "extension": info.get("extension"), "md5": info.get("md5")}


def refs(r: Repo) -> dict[str, Any]:
    return {"branches_closed": dict(r.content.refs.get("branches_closed", {})),
            "bookmarks": dict(r.content.refs.get("bookmarks", {})),
            "branches": dict(r.content.refs.get("branches", {})), "tags": dict(r.content.refs.get("tags", {}))}


def vcs_settings(world: World, r: Repo) -> dict[str, Any]:
    if r.settings is None:
        return dict(world.global_vcs_settings)
    return {k: r.settings.get(k) for k in REPO_VCS_SETTINGS}


# --------------------------------------------------------------------------- reviews


_STATUS_LABELS = {"not_reviewed": "Not Reviewed", "approved": "Approved", "rejected": "Rejected",
                  "under_review": "Under Review"}


def status_label(status: str | None) -> str | None:
    return _STATUS_LABELS.get(status) if status else None


def review_status(pr: PullRequest) -> str:
    """4.22's calculated review status: all reviewers approved / all rejected / under review."""
    votes = [pr.votes.get(r.user_id, "not_reviewed") for r in pr.reviewers]
    if votes and all(v == "approved" for v in votes):
        return "approved"
    if votes and all(v == "rejected" for v in votes):
        return "rejected"
    return "under_review"


MERGEABLE = "This pull request can be automatically merged."


def pull_request(world: World, pr: PullRequest, merge_state: bool) -> dict[str, Any]:
    target, source = world.repos[pr.target_repo_id], world.repos[pr.source_repo_id]
    closed = pr.status == "closed"
    if merge_state and not closed:
        mergeable = {"status": True, "message": MERGEABLE}
    else:
        mergeable = {"status": "not_available", "message": "not_available"}
    pr_url = f"{world.repo_url(target.name)}/pull-request/{pr.pull_request_id}"

    def side(r: Repo, ref: tuple[str, str, str]) -> dict[str, Any]:
        return {"clone_url": world.repo_url(r.name),
                "reference": {"commit_id": ref[2], "type": ref[0], "name": ref[1]}, "repository": r.name}

    return {
        "status": pr.status, "pull_request_id": pr.pull_request_id, "description": pr.description,
        "title": pr.title, "url": pr_url,
        "reviewers": [{"reasons": list(r.reasons), "review_status": pr.votes.get(r.user_id, "not_reviewed"),
                       "user": pr_user(world.users[r.user_id])} for r in pr.reviewers],
        "author": pr_user(world.users[pr.author_id]), "review_status": review_status(pr),
        "created_on": pr.created_on, "commit_ids": list(pr.commit_ids), "state": pr.state,
        "mergeable": mergeable, "target": side(target, pr.target_ref), "updated_on": pr.updated_on,
        "merge": {"clone_url": None if closed else f"{pr_url}/repository",
                  "reference": {"type": "branch", "name": "pr-merge", "commit_id": pr.merge_commit_id}},
        "source": side(source, pr.source_ref),
    }


def comment(world: World, c: Comment) -> dict[str, Any]:
    """A commit comment (get_comment, get_repo_comments, edit_comment)."""
    resolved_by = world.comments.get(c.resolved_by) if c.resolved_by else None
    return {
        "comment_text": c.text, "comment_type": c.comment_type, "comment_last_version": c.version,
        "comment_f_path": c.f_path, "comment_commit_id": c.commit_id, "comment_id": c.comment_id,
        "comment_pull_request_id": c.pull_request_id, "comment_lineno": c.lineno,
        "comment_resolved_by": comment(world, resolved_by) if resolved_by else None,
        "comment_created_on": c.created_on, "comment_author": comment_author(world.users[c.author_id]),
        "comment_status": [{"status": c.status[0], "status_id": c.status[1]}] if c.status else [],
    }


def pr_comment(world: World, c: Comment) -> dict[str, Any]:
    """A comment of get_pull_request_comments."""
    resolved_by = world.comments.get(c.resolved_by) if c.resolved_by else None
    return {
        "comment_text": c.text, "comment_type": c.comment_type, "comment_last_version": c.version,
        "comment_id": c.comment_id, "comment_pull_request_id": c.pull_request_id, "comment_lineno": c.lineno,
        "pull_request_version": None,
        "comment_status": {"status": c.status[0], "status_lbl": status_label(c.status[0])} if c.status else {},
        "comment_commit_id": c.commit_id, "comment_f_path": c.f_path,
        "comment_resolved_by": pr_comment(world, resolved_by) if resolved_by else None,
        "comment_created_on": c.created_on, "comment_author": pr_comment_author(world.users[c.author_id]),
    }


# --------------------------------------------------------------------------- gists, audit


def gist(world: World, g: Gist, content: bool) -> dict[str, Any]:
    return {
        "content": py2.ordered(dict(sorted(g.files.items()))) if content else None,
        "created_on": g.created_on, "gist_id": g.gist_id, "description": g.description,
        "access_id": g.access_id, "url": f"{world.base_url}/_admin/gists/{g.access_id}",
        "modified_at": g.modified_at, "acl_level": g.acl_level, "expires": g.expires, "type": g.gist_type,
    }


def audit_entry(e: AuditEntry) -> dict[str, Any]:
    return {"username": e.username, "repository_id": e.repository_id, "user_id": e.user_id,
            "repository_name": e.repository_name, "user_ip": e.user_ip, "action_date": e.action_date,
            "action": e.action}
