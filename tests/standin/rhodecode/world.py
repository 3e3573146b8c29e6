"""The stand-in's in-memory state: users, groups, repositories, reviews, gists, audit log.

build.py fills it from the seed (seed.py) with a stand-in's own URL and tokens. Lookups here
raise the texts 4.22 answers when an object does not exist.
"""
from __future__ import annotations

import secrets
import time
from typing import Any

from .errors import RpcError
from .model import AuditEntry, Clock, Comment, Gist, PullRequest, Repo, RepoGroup, Token, User, UserGroup
from .py2 import py2str
from .vcs import Commit


class World:
    """All state of one stand-in. Ids count on from where the recorded run started."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.clock = Clock(time.time())
        self.users: dict[int, User] = {}
        self.user_groups: dict[int, UserGroup] = {}
        self.repo_groups: dict[int, RepoGroup] = {}
        self.repos: dict[int, Repo] = {}
        self.commits: dict[str, Commit] = {}
        self.trees: dict[str, dict[str, dict[str, Any]]] = {}
        self.pull_requests: dict[int, PullRequest] = {}
        self.comments: dict[int, Comment] = {}
        self.gists: dict[int, Gist] = {}
        self.audit_log: list[AuditEntry] = []
        self.grant_rows: dict[tuple[str, int, int], int] = {}  # (kind, object id, user group id) -> row number
        self.next_ids: dict[str, int] = {"audit": 1, "grant_row": 1}
        self.default_global_perms: list[str] = []  # what a new user gets (the default user's)
        self.admin_global_perms: list[str] = []  # what the server reports for super-admins
        self.global_vcs_settings: dict[str, Any] = {}
        self.server_info: dict[str, Any] = {}
        self.repo_store = ""
        self.error_page = ""

    # ------------------------------------------------------------------ ids, time, audit

    def next_id(self, kind: str) -> int:
        value = self.next_ids[kind]
        self.next_ids[kind] = value + 1
        return value

    def now(self) -> str:
        return self.clock.now()

    def epoch(self) -> float:
        return self.clock.epoch()

    def audit(self, action: str, user: User | None, ip: str | None, repo: Repo | None = None,
              repo_name: str | None = None) -> None:
        """Store an audit entry; like 4.22 it also marks the user's last activity."""
        when = self.now()
        self.audit_log.append(AuditEntry(self.next_id("audit"), action, user.username if user else "",
                                         user.user_id if user else None,
                                         repo_name if repo_name is not None else (repo.name if repo else None),
                                         repo.repo_id if repo else None, str(ip), when))
        if user is not None:
            user.last_activity = when

    # ------------------------------------------------------------------ user group permissions

    @staticmethod
    def _row_key(obj: Repo | RepoGroup, group_id: int) -> tuple[str, int, int]:
        return (type(obj).__name__, obj.repo_id if isinstance(obj, Repo) else obj.group_id, group_id)

    def grant_group(self, obj: Repo | RepoGroup, group_id: int, perm: str) -> None:
        """A user group's permission on a repository (group); like a DB row, a new grant is
        numbered and an update keeps its number."""
        if group_id not in obj.group_perms:
            self.grant_rows[self._row_key(obj, group_id)] = self.next_id("grant_row")
        obj.group_perms[group_id] = perm

    def revoke_group(self, obj: Repo | RepoGroup, group_id: int) -> None:
        obj.group_perms.pop(group_id, None)
        self.grant_rows.pop(self._row_key(obj, group_id), None)

    def granted_to(self, objects: Any, group: UserGroup) -> list[Any]:
        """The objects `group` holds a permission on, in the order the permissions were granted."""
        found = [o for o in objects if group.users_group_id in o.group_perms]
        return sorted(found, key=lambda o: self.grant_rows.get(self._row_key(o, group.users_group_id), 0))

    # ------------------------------------------------------------------ users

    def add_user(self, user: User) -> User:
        self.users[user.user_id] = user
        return user

    def user_by_name(self, name: str) -> User:
        for user in self.users.values():
            if user.username == name:
                return user
        raise KeyError(name)

    def find_user(self, userid: Any) -> User | None:
        """4.22's lookup: an integer is an id, anything else a username."""
        if isinstance(userid, int):
            return self.users.get(int(userid))
        return next((u for u in self.users.values() if u.username == userid), None)

    def user_or_error(self, userid: Any) -> User:
        user = self.find_user(userid)
        if user is None:
            raise RpcError(f"user `{py2str(userid)}` does not exist")
        return user

    def user_by_token(self, token: str) -> tuple[User, Token] | None:
        for user in self.users.values():
            for t in user.tokens:
                if t.value == token:
                    return user, t
        return None

    def new_token(self, role: str) -> Token:
        return Token(secrets.token_hex(20), role)

    # ------------------------------------------------------------------ groups and repositories

    def user_group_by_name(self, name: str) -> UserGroup:
        for group in self.user_groups.values():
            if group.name == name:
                return group
        raise KeyError(name)

    def find_user_group(self, groupid: Any) -> UserGroup | None:
        if isinstance(groupid, int):
            return self.user_groups.get(int(groupid))
        return next((g for g in self.user_groups.values() if g.name == groupid), None)

    def user_group_or_error(self, groupid: Any) -> UserGroup:
        group = self.find_user_group(groupid)
        if group is None:
            raise RpcError(f"user group `{py2str(groupid)}` does not exist")
        return group

    def find_repo_group(self, groupid: Any) -> RepoGroup | None:
        if isinstance(groupid, int):
            return self.repo_groups.get(int(groupid))
        return next((g for g in self.repo_groups.values() if g.name == groupid), None)

    def repo_group_or_error(self, groupid: Any) -> RepoGroup:
        group = self.find_repo_group(groupid)
        if group is None:
            raise RpcError(f"repository group `{py2str(groupid)}` does not exist")
        return group

    def repo_by_name(self, name: str) -> Repo:
        for repo in self.repos.values():
            if repo.name == name:
                return repo
        raise KeyError(name)

    def find_repo(self, repoid: Any) -> Repo | None:
        if isinstance(repoid, int):
            return self.repos.get(int(repoid))
        return next((r for r in self.repos.values() if r.name == repoid), None)

    def repo_or_error(self, repoid: Any) -> Repo:
        repo = self.find_repo(repoid)
        if repo is None:
            raise RpcError(f"repository `{py2str(repoid)}` does not exist")
        return repo

    def repo_url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def pull_request_or_error(self, pullrequestid: Any) -> PullRequest:
        pr = None
        if isinstance(pullrequestid, int) or (isinstance(pullrequestid, str) and pullrequestid.isdigit()):
            pr = self.pull_requests.get(int(pullrequestid))
        if pr is None:
            raise RpcError(f"pull request `{py2str(pullrequestid)}` does not exist")
        return pr

    def comment_or_error(self, comment_id: Any) -> Comment:
        comment = None
        if isinstance(comment_id, int) or (isinstance(comment_id, str) and comment_id.isdigit()):
            comment = self.comments.get(int(comment_id))
        if comment is None:
            raise RpcError(f"comment `{py2str(comment_id)}` does not exist")
        return comment

    def gist_by_access_id(self, access_id: Any) -> Gist | None:
        return next((g for g in self.gists.values() if g.access_id == py2str(access_id)), None)
