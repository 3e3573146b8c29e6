"""A stand-in's world as the recorded run found it, made from the seed (seed.py).

The seed is plain data with its placeholders already replaced by this stand-in's URL and
tokens; here it becomes the objects of model.py.
"""
from __future__ import annotations

from typing import Any

from .model import (DEFAULT_USER, DEFAULT_USER_ID, AuditEntry, ChangesetCache, Clock, Comment, Gist, PullRequest,
                    Repo, RepoGroup, Reviewer, Token, User, UserGroup)
from .vcs import EMPTY_COMMIT_ID, RepoContent, commit_from_seed
from .world import World


def initial_world(seed: dict[str, Any], base_url: str) -> World:
    world = World(base_url)
    world.clock = Clock(seed["run_started_epoch"])
    world.next_ids.update(seed["next_ids"])
    world.default_global_perms = list(seed["default_global_perms"])
    world.global_vcs_settings = dict(seed["global_vcs_settings"])
    world.server_info = seed["server_info"]
    world.repo_store = seed["repo_store"]
    world.error_page = seed["error_page"]
    rank = {kind: {name: i for i, name in enumerate(names)} for kind, names in seed["permission_map_order"].items()}
    _users(world, seed)
    for raw_id, data in seed["commits"].items():
        world.commits[raw_id] = commit_from_seed(data)
    world.trees = {c: {p: dict(n) for p, n in tree.items()} for c, tree in seed["trees"].items()}
    _groups(world, seed, rank)
    _repos(world, seed, rank)
    _reviews(world, seed)
    for data in seed["gists"]:
        gist = Gist(data["gist_id"], data["access_id"], world.user_by_name(data["owner"]).user_id, data["type"],
                    data["description"], data["acl_level"], data["created_on"], data["modified_at"],
                    data["expires"], dict(data["files"]))
        world.gists[gist.gist_id] = gist
    for data in seed["audit"]:
        world.audit_log.append(AuditEntry(world.next_id("audit"), data["action"], data["username"], data["user_id"],
                                          data["repository_name"], data["repository_id"], data["user_ip"],
                                          data["action_date"]))
    return world


def _users(world: World, seed: dict[str, Any]) -> None:
    # RhodeCode's anonymous `default` user exists on every server; its permissions are the defaults
    world.add_user(User(DEFAULT_USER_ID, DEFAULT_USER, "anonymous@rhodecode.org", firstname="Anonymous",
                        lastname="User", global_perms=list(seed["default_global_perms"])))
    for data in seed["users"]:
        user = User(data["user_id"], data["username"], data["email"], data["firstname"], data["lastname"],
                    data["description"], data["active"], data["admin"], data["extern_name"], data["extern_type"],
                    data["language"], data["last_login"], data["last_activity"], list(data["ip_addresses"]),
                    [Token(v, r) for v, r in data["tokens"]],
                    list(data["global_perms"] or world.default_global_perms), data["sort_key"])
        world.add_user(user)
        if user.admin and not world.admin_global_perms and data["global_perms"]:
            world.admin_global_perms = list(data["global_perms"])


def _permissions(world: World, obj: Any, recorded: list[dict] | None, kind: str, owner: User,
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
            obj.user_perms[world.user_by_name(entry["name"]).user_id] = entry["permission"]
        elif isinstance(obj, (Repo, RepoGroup)):
            world.grant_group(obj, world.user_group_by_name(entry["name"]).users_group_id, entry["permission"])
        else:
            obj.group_perms[world.user_group_by_name(entry["name"]).users_group_id] = entry["permission"]


def _groups(world: World, seed: dict[str, Any], rank: dict[str, dict[str, int]]) -> None:
    for data in seed["user_groups"]:
        owner = world.user_by_name(data["owner"])
        group = UserGroup(data["users_group_id"], data["group_name"], owner.user_id, data["group_description"],
                          data["active"], data["sync"], [world.user_by_name(n).user_id for n in data["members"]],
                          rank=rank["user_groups"].get(data["group_name"]))
        _permissions(world, group, data["permissions"], "usergroup", owner)
        world.user_groups[group.users_group_id] = group
    for data in seed["repo_groups"]:
        owner = world.user_by_name(data["owner"])
        group = RepoGroup(data["group_id"], data["group_name"], owner.user_id, data["group_description"],
                          rank=rank["repositories_groups"].get(data["group_name"]))
        _permissions(world, group, data["permissions"], "group", owner)
        world.repo_groups[group.group_id] = group


def _repos(world: World, seed: dict[str, Any], rank: dict[str, dict[str, int]]) -> None:
    ids = {r["repo_name"]: r["repo_id"] for r in seed["repos"]}
    for data in seed["repos"]:
        changeset = data["last_changeset"]
        content = seed["repo_content"][data["repo_name"]]
        repo = Repo(data["repo_id"], data["repo_name"], data["repo_type"], world.user_by_name(data["owner"]).user_id,
                    data["created_on"],
                    RepoContent(list(content["commits"]), {k: dict(v) for k, v in content["refs"].items()}),
                    ChangesetCache(changeset["raw_id"] if changeset["raw_id"] != EMPTY_COMMIT_ID else None,
                                   changeset["updated_on"], data["changeset_flipped"]),
                    data["description"], data["private"], data["clone_uri"], data["push_uri"],
                    ":".join(data["landing_rev"]), data["enable_statistics"], data["enable_locking"],
                    data["enable_downloads"], fork_of_id=ids.get(data["fork_of"]),
                    rank=rank["repositories"].get(data["repo_name"]))
        _permissions(world, repo, data.get("permissions"), "repository", world.users[repo.owner_id],
                     default="repository.none" if repo.private else "repository.read")
        repo.followers = [world.user_by_name(n).user_id for n in data.get("followers", [data["owner"]])]
        world.repos[repo.repo_id] = repo


def _reviews(world: World, seed: dict[str, Any]) -> None:
    for data in seed["pull_requests"]:
        world.pull_requests[data["pull_request_id"]] = _pull_request(world, data)
    for data in seed["comments"]:
        comment = Comment(data["comment_id"], data["text"], data["type"], world.user_by_name(data["author"]).user_id,
                          world.repo_by_name(data["repo"]).repo_id, data["created_on"], data["commit_id"],
                          data["pull_request_id"], data["f_path"], data["lineno"], data["version"],
                          data["resolved_by"], tuple(data["status"]) if data["status"] else None)
        world.comments[comment.comment_id] = comment


def _pull_request(world: World, data: dict[str, Any]) -> PullRequest:
    def ref(side: dict) -> tuple[str, str, str]:
        r = side["reference"]
        return r["type"], r["name"], r["commit_id"]

    pr = PullRequest(data["pull_request_id"], data["title"], data["description"],
                     world.user_by_name(data["author"]["username"]).user_id,
                     world.repo_by_name(data["source"]["repository"]).repo_id, ref(data["source"]),
                     world.repo_by_name(data["target"]["repository"]).repo_id, ref(data["target"]),
                     list(data["commit_ids"]), data["created_on"], data["updated_on"],
                     data["merge"]["reference"]["commit_id"], status=data["status"], state=data["state"])
    for reviewer in data["reviewers"]:
        user = world.user_by_name(reviewer["user"]["username"])
        pr.reviewers.append(Reviewer(user.user_id, list(reviewer["reasons"])))
        if reviewer["review_status"] != "not_reviewed":
            pr.votes[user.user_id] = reviewer["review_status"]
    return pr
