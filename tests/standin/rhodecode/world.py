"""The stand-in's in-memory state: users, groups, repositories, reviews, gists, audit log.

`World.initial` builds it from the seed (seed.py) with a stand-in's own URL and tokens.
Lookups here raise the texts 4.22 answers when an object does not exist.
"""
from __future__ import annotations

import secrets
import time
from typing import Any

from .errors import RpcError
from .model import (DEFAULT_USER, DEFAULT_USER_ID, AuditEntry, ChangesetCache, Clock, Comment, Gist, PullRequest,
                    Repo, RepoGroup, Reviewer, Token, User, UserGroup)
from .py2 import py2str
from .vcs import Commit, RepoContent, commit_from_seed

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

    # ------------------------------------------------------------------ building

    @classmethod
    def initial(cls, seed: dict[str, Any], base_url: str) -> World:
        """The world of the recorded run's start; `seed` has its placeholders substituted."""
        world = cls(base_url)
        world.clock = Clock(seed["run_started_epoch"])
        world.next_ids.update(seed["next_ids"])
        world.default_global_perms = list(seed["default_global_perms"])
        world.global_vcs_settings = dict(seed["global_vcs_settings"])
        world.server_info = seed["server_info"]
        world.repo_store = seed["repo_store"]
        world.error_page = seed["error_page"]
        rank = {kind: {name: i for i, name in enumerate(names)}
                for kind, names in seed["permission_map_order"].items()}

        world.add_user(User(DEFAULT_USER_ID, DEFAULT_USER, "anonymous@rhodecode.org", firstname="Anonymous",
                            lastname="User", global_perms=list(seed["default_global_perms"])))
        for data in seed["users"]:
            user = User(data["user_id"], data["username"], data["email"], data["firstname"], data["lastname"],
                        data["description"], data["active"], data["admin"], data["extern_name"],
                        data["extern_type"], data["language"], data["last_login"], data["last_activity"],
                        list(data["ip_addresses"]), [Token(v, r) for v, r in data["tokens"]],
                        list(data["global_perms"] or world.default_global_perms), data["sort_key"])
            world.add_user(user)
            if user.admin and not world.admin_global_perms and data["global_perms"]:
                world.admin_global_perms = list(data["global_perms"])
        for raw_id, data in seed["commits"].items():
            world.commits[raw_id] = commit_from_seed(data)
        world.trees = {c: {p: dict(n) for p, n in tree.items()} for c, tree in seed["trees"].items()}

        for data in seed["user_groups"]:
            owner = world.user_by_name(data["owner"])
            group = UserGroup(data["users_group_id"], data["group_name"], owner.user_id, data["group_description"],
                              data["active"], data["sync"], [world.user_by_name(n).user_id for n in data["members"]],
                              rank=rank["user_groups"].get(data["group_name"]))
            world._seed_permissions(group, data["permissions"], "usergroup", owner)
            world.user_groups[group.users_group_id] = group
        for data in seed["repo_groups"]:
            owner = world.user_by_name(data["owner"])
            group = RepoGroup(data["group_id"], data["group_name"], owner.user_id, data["group_description"],
                              rank=rank["repositories_groups"].get(data["group_name"]))
            world._seed_permissions(group, data["permissions"], "group", owner)
            world.repo_groups[group.group_id] = group

        by_name = {r["repo_name"]: r for r in seed["repos"]}
        for data in seed["repos"]:
            changeset = data["last_changeset"]
            commit_id = changeset["raw_id"] if changeset["raw_id"] != "0" * 40 else None
            content = seed["repo_content"][data["repo_name"]]
            repo = Repo(data["repo_id"], data["repo_name"], data["repo_type"],
                        world.user_by_name(data["owner"]).user_id, data["created_on"],
                        RepoContent(list(content["commits"]), {k: dict(v) for k, v in content["refs"].items()}),
                        ChangesetCache(commit_id, changeset["updated_on"], data["changeset_flipped"]),
                        data["description"], data["private"], data["clone_uri"], data["push_uri"],
                        ":".join(data["landing_rev"]), data["enable_statistics"], data["enable_locking"],
                        data["enable_downloads"], rank=rank["repositories"].get(data["repo_name"]))
            if data["fork_of"]:
                repo.fork_of_id = by_name[data["fork_of"]]["repo_id"]
            world._seed_permissions(repo, data.get("permissions"), "repository", world.users[repo.owner_id],
                                    default="repository.none" if repo.private else "repository.read")
            repo.followers = [world.user_by_name(n).user_id for n in data.get("followers", [data["owner"]])]
            world.repos[repo.repo_id] = repo

        for data in seed["pull_requests"]:
            world.pull_requests[data["pull_request_id"]] = world._pull_request_from_seed(data)
        for data in seed["comments"]:
            status = tuple(data["status"]) if data["status"] else None
            author = world.user_by_name(data["author"]).user_id
            comment = Comment(data["comment_id"], data["text"], data["type"], author,
                              world.repo_by_name(data["repo"]).repo_id, data["created_on"], data["commit_id"],
                              data["pull_request_id"], data["f_path"], data["lineno"], data["version"],
                              data["resolved_by"], status)
            world.comments[comment.comment_id] = comment
        for data in seed["gists"]:
            gist = Gist(data["gist_id"], data["access_id"], world.user_by_name(data["owner"]).user_id, data["type"],
                        data["description"], data["acl_level"], data["created_on"], data["modified_at"],
                        data["expires"], dict(data["files"]))
            world.gists[gist.gist_id] = gist
        for data in seed["audit"]:
            world.audit_log.append(AuditEntry(world.next_id("audit"), data["action"], data["username"],
                                              data["user_id"], data["repository_name"], data["repository_id"],
                                              data["user_ip"], data["action_date"]))
        return world

    def _seed_permissions(self, obj: Any, recorded: list[dict] | None, kind: str, owner: User,
                          default: str | None = None) -> None:
        """Explicit permissions from a recorded permission list, or what 4.22 sets up on creation."""
        if recorded is None:
            obj.user_perms[DEFAULT_USER_ID] = default or f"{kind}.read"
            if kind == "usergroup":
                obj.user_perms[owner.user_id] = "usergroup.admin"
            return
        for entry in recorded:
            if entry["origin"] != "permission":
                continue
            if entry["type"] == "user":
                obj.user_perms[self.user_by_name(entry["name"]).user_id] = entry["permission"]
            elif isinstance(obj, (Repo, RepoGroup)):
                self.grant_group(obj, self.user_group_by_name(entry["name"]).users_group_id, entry["permission"])
            else:
                obj.group_perms[self.user_group_by_name(entry["name"]).users_group_id] = entry["permission"]

    def _pull_request_from_seed(self, data: dict[str, Any]) -> PullRequest:
        def ref(side: dict) -> tuple[str, str, str]:
            r = side["reference"]
            return r["type"], r["name"], r["commit_id"]

        pr = PullRequest(data["pull_request_id"], data["title"], data["description"],
                         self.user_by_name(data["author"]["username"]).user_id,
                         self.repo_by_name(data["source"]["repository"]).repo_id, ref(data["source"]),
                         self.repo_by_name(data["target"]["repository"]).repo_id, ref(data["target"]),
                         list(data["commit_ids"]), data["created_on"], data["updated_on"],
                         data["merge"]["reference"]["commit_id"], status=data["status"], state=data["state"])
        for reviewer in data["reviewers"]:
            user = self.user_by_name(reviewer["user"]["username"])
            pr.reviewers.append(Reviewer(user.user_id, list(reviewer["reasons"])))
            if reviewer["review_status"] != "not_reviewed":
                pr.votes[user.user_id] = reviewer["review_status"]
        return pr

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
