"""4.22's user_api: users, their locks and audit logs."""
from __future__ import annotations

import re
from typing import Any

from .. import shapes
from ..errors import RpcError, validation_error
from ..rpc import APIUSER, REQUIRED, Call, Opt, api, as_bool, extract, given
from ..model import DEFAULT_USER_ID, RepoGroup, User

MODULE = "user_api"
USERNAME = re.compile(r"^\w[\w.-]{0,254}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@api(MODULE)
def create_user(c: Call, username=REQUIRED, email=REQUIRED, password=Opt(""), firstname=Opt(""), lastname=Opt(""),
                description=Opt(""), active=Opt(True), admin=Opt(False), extern_name=Opt("rhodecode"),
                extern_type=Opt("rhodecode"), force_password_change=Opt(False),
                create_personal_repo_group=Opt(None)) -> dict[str, Any]:
    c.require_admin()
    world = c.world
    if world.find_user(username) is not None and isinstance(username, str):
        raise RpcError(f"user `{username}` already exist")
    if isinstance(email, str) and any(u.email.lower() == email.lower() for u in world.users.values()):
        raise RpcError(f"email `{email}` already exist")
    errors = {}
    if not isinstance(username, str) or not USERNAME.match(username):
        errors["username"] = ("Username may only contain alphanumeric characters underscores, periods or dashes "
                              "and must begin with alphanumeric character or underscore")
    if not isinstance(email, str) or not EMAIL.match(email):
        errors["email"] = "Invalid email address"
    if errors:
        raise validation_error(errors)
    personal = extract(create_personal_repo_group)
    user = User(world.next_id("user"), username, email, extract(firstname), extract(lastname), extract(description),
                as_bool(extract(active)), as_bool(extract(admin)), extract(extern_name), extract(extern_type),
                tokens=[world.new_token("feed")], global_perms=list(world.default_global_perms),
                sort_key=username, password=extract(password))
    world.add_user(user)
    if personal is not None and as_bool(personal):
        group = RepoGroup(world.next_id("repo_group"), username, user.user_id,
                          f"personal repo group of user `{username}`", personal=True)
        group.user_perms[DEFAULT_USER_ID] = "group.read"
        if not user.admin:
            group.user_perms[user.user_id] = "group.admin"
        world.repo_groups[group.group_id] = group
    world.audit("user.create", c.user, c.ip)
    return {"msg": f"created new user `{username}`", "user": shapes.user(user, secrets=True)}


@api(MODULE)
def delete_user(c: Call, userid=REQUIRED) -> dict[str, Any]:
    c.require_admin()
    world = c.world
    user = world.user_or_error(userid)
    # what a user owns (repositories, groups, pull requests) blocks its deletion
    owns = (any(r.owner_id == user.user_id for r in world.repos.values())
            or any(g.owner_id == user.user_id for g in world.repo_groups.values())
            or any(g.owner_id == user.user_id for g in world.user_groups.values())
            or any(p.author_id == user.user_id for p in world.pull_requests.values()))
    if owns or user.user_id == DEFAULT_USER_ID:
        raise RpcError(f"failed to delete user ID:{user.user_id} {user.username}")
    del world.users[user.user_id]
    for obj in [*world.repos.values(), *world.repo_groups.values(), *world.user_groups.values()]:
        obj.user_perms.pop(user.user_id, None)
    for group in world.user_groups.values():
        if user.user_id in group.members:
            group.members.remove(user.user_id)
    for repo in world.repos.values():
        if user.user_id in repo.followers:
            repo.followers.remove(user.user_id)
    for gist in [g for g in world.gists.values() if g.owner_id == user.user_id]:
        del world.gists[gist.gist_id]
    for comment in world.comments.values():  # comments stay, attributed to the admin who deleted
        if comment.author_id == user.user_id:
            comment.author_id = c.user.user_id
    for pr in world.pull_requests.values():
        pr.reviewers = [r for r in pr.reviewers if r.user_id != user.user_id]
        pr.votes.pop(user.user_id, None)
    for repo in world.repos.values():
        if repo.lock and repo.lock.user_id == user.user_id:
            repo.lock = None
    for entry in world.audit_log:  # the log keeps the name, the database reference goes
        if entry.user_id == user.user_id:
            entry.user_id = None
    world.audit("user.delete", c.user, c.ip)
    return {"msg": f"deleted user ID:{user.user_id} {user.username}", "user": None}


@api(MODULE)
def get_user(c: Call, userid=APIUSER) -> dict[str, Any]:
    user = c.same_user(userid)
    return shapes.user_with_permissions(c.world, user)


@api(MODULE)
def get_user_audit_logs(c: Call, userid=APIUSER) -> list[dict[str, Any]]:
    user = c.same_user(userid)
    entries = [e for e in c.world.audit_log if e.user_id == user.user_id or e.username == user.username]
    return [shapes.audit_entry(e) for e in reversed(entries)]


@api(MODULE)
def get_user_locks(c: Call, userid=APIUSER) -> list[dict[str, Any]]:
    user = c.same_user(userid)
    return [shapes.repo(c.world, r, secrets=c.admin) for r in c.world.repos.values()
            if r.lock and r.lock.user_id == user.user_id]


@api(MODULE)
def get_users(c: Call) -> list[dict[str, Any]]:
    c.require_admin()
    users = sorted((u for u in c.world.users.values() if u.user_id != DEFAULT_USER_ID), key=lambda u: u.sort_key)
    return [shapes.user(u, secrets=True) for u in users]


@api(MODULE)
def update_user(c: Call, userid=REQUIRED, username=Opt(None), email=Opt(None), password=Opt(None),
                firstname=Opt(None), lastname=Opt(None), description=Opt(None), active=Opt(None), admin=Opt(None),
                extern_type=Opt(None), extern_name=Opt(None)) -> dict[str, Any]:
    c.require_admin()
    world = c.world
    user = world.user_or_error(userid)
    if user.user_id == DEFAULT_USER_ID:
        raise RpcError("editing default user is forbidden")
    updates = {k: v for k, v in (("username", username), ("email", email), ("password", password),
                                 ("firstname", firstname), ("lastname", lastname), ("description", description),
                                 ("active", active), ("admin", admin), ("extern_type", extern_type),
                                 ("extern_name", extern_name)) if given(v)}
    taken_name = "username" in updates and any(
        u.username == updates["username"] and u is not user for u in world.users.values())
    taken_email = "email" in updates and any(
        isinstance(updates["email"], str) and u.email.lower() == updates["email"].lower() and u is not user
        for u in world.users.values())
    if taken_name or taken_email:
        raise RpcError(f"failed to update user `{userid}`")
    for key, value in updates.items():
        setattr(user, key, value)
        if key == "username":
            user.sort_key = value
    world.audit("user.edit", c.user, c.ip)
    return {"msg": f"updated user ID:{user.user_id} {user.username}", "user": shapes.user(user, secrets=True)}
