"""4.22's repo_group_api: repository groups and their permissions."""
from __future__ import annotations

from typing import Any

from .. import perms, shapes
from ..errors import RpcError, validation_error
from ..rpc import APIUSER, REQUIRED, Call, Opt, api, as_bool, extract, given, perm_or_error
from ..model import DEFAULT_USER_ID, Repo, RepoGroup
from . import repo_model

MODULE = "repo_group_api"


def _validate_name(c: Call, name: Any, current: RepoGroup | None = None) -> RepoGroup | None:
    """RepoGroupSchema: the parent exists and takes the caller's groups, the name is free."""
    if not isinstance(name, str) or not name.strip("/"):
        raise validation_error({"repo_group_name": "Required"})
    world = c.world
    parent_name = name.rpartition("/")[0]
    parent = None
    if parent_name:
        parent = world.find_repo_group(parent_name)
        if parent is None:
            raise validation_error({"repo_group": f"Parent repository group `{parent_name}` does not exist"})
        if not c.admin and not perms.has_repo_group(world, c.user, parent, "admin"):
            raise validation_error({"repo_group": "You do not have the permissions to store repository groups "
                                                  f"inside repository group `{parent_name}`"})
    elif not c.admin and current is None and not perms.has_global(c.user, "hg.repogroup.create.true"):
        raise validation_error({"repo_group": "You do not have the permission to store repository groups in the "
                                              "root location."})
    other = world.find_repo_group(name)
    if other is not None and other is not current:
        raise validation_error({"unique_repo_group_name": f"Repository group with name `{name}` already exists"})
    return parent


def _targets(world: Any, group: RepoGroup, recursive: Any) -> list[RepoGroup | Repo]:
    """What a (recursive) permission change applies to: `all`, `groups`, `repos`; anything
    else, `none` included, is the group alone."""
    if recursive not in ("all", "groups", "repos"):
        return [group]
    prefix = group.name + "/"
    groups = [g for g in sorted(world.repo_groups.values(), key=lambda g: g.name) if g.name.startswith(prefix)]
    repos = [r for r in sorted(world.repos.values(), key=lambda r: r.name) if r.name.startswith(prefix)]
    return ([group] + (groups if recursive in ("all", "groups") else [])
            + (repos if recursive in ("all", "repos") else []))


def _apply(world: Any, targets: list[RepoGroup | Repo], user_id: int | None, group_id: int | None,
           perm: str | None) -> None:
    for obj in targets:
        if isinstance(obj, Repo):
            if obj.private and user_id == DEFAULT_USER_ID:
                continue  # recursion leaves a private repository's default permission alone
            value = perm.replace("group.", "repository.") if perm else None
        else:
            value = perm
        if user_id is not None:
            if value is None:
                obj.user_perms.pop(user_id, None)
            else:
                obj.user_perms[user_id] = value
        elif value is None:
            world.revoke_group(obj, group_id)
        else:
            world.grant_group(obj, group_id, value)


@api(MODULE)
def create_repo_group(c: Call, group_name=REQUIRED, description=Opt(""), owner=APIUSER,
                      copy_permissions=Opt(False)) -> dict[str, Any]:
    world = c.world
    owner_user = c.owner(owner)
    parent = _validate_name(c, group_name)
    group = RepoGroup(world.next_id("repo_group"), group_name, owner_user.user_id,
                      extract(description) or group_name)
    if not owner_user.admin:
        group.user_perms[owner_user.user_id] = "group.admin"
    if parent is not None and extract(copy_permissions):
        group.user_perms.update({u: p for u, p in parent.user_perms.items() if u != owner_user.user_id or
                                 owner_user.admin})
        for gid, perm in parent.group_perms.items():
            world.grant_group(group, gid, perm)
    else:
        group.user_perms[DEFAULT_USER_ID] = "group.read"
    world.repo_groups[group.group_id] = group
    world.audit("repo_group.create", c.user, c.ip)
    return {"msg": f"Created new repo group `{group_name}`", "repo_group": shapes.repo_group(world, group)}


@api(MODULE)
def delete_repo_group(c: Call, repogroupid=REQUIRED) -> dict[str, Any]:
    world = c.world
    group = c.repo_group(repogroupid, "admin")
    prefix = group.name + "/"
    if any(r.name.startswith(prefix) for r in world.repos.values()) or any(
            g.name.startswith(prefix) for g in world.repo_groups.values()):
        raise RpcError(f"failed to delete repo group ID:{group.group_id} {group.name}")
    del world.repo_groups[group.group_id]
    for gid in list(group.group_perms):
        world.revoke_group(group, gid)
    world.audit("repo_group.delete", c.user, c.ip)
    return {"msg": f"deleted repo group ID:{group.group_id} {group.name}", "repo_group": None}


@api(MODULE)
def get_repo_group(c: Call, repogroupid=REQUIRED) -> dict[str, Any]:
    group = c.repo_group(repogroupid, "read")
    return shapes.repo_group(c.world, group, with_permissions=True)


@api(MODULE)
def get_repo_groups(c: Call) -> list[dict[str, Any]]:
    return [shapes.repo_group(c.world, g) for g in sorted(c.world.repo_groups.values(), key=lambda g: g.name)
            if perms.has_repo_group(c.world, c.user, g, "read")]


@api(MODULE)
def grant_user_group_permission_to_repo_group(c: Call, repogroupid=REQUIRED, usergroupid=REQUIRED, perm=REQUIRED,
                                              apply_to_children=Opt("none")) -> dict[str, Any]:
    group = c.repo_group(repogroupid, "admin")
    perm = perm_or_error(perm, prefix="group.")
    user_group = c.user_group(usergroupid, None if c.admin else "read")
    recursive = extract(apply_to_children)
    _apply(c.world, _targets(c.world, group, recursive), None, user_group.users_group_id, perm)
    c.world.audit("repo_group.edit.permissions", c.user, c.ip)
    return {"msg": f"Granted perm: `{perm}` (recursive:{recursive}) for user group: `{user_group.name}` in repo "
                   f"group: `{group.short_name}`", "success": True}


@api(MODULE)
def grant_user_permission_to_repo_group(c: Call, repogroupid=REQUIRED, userid=REQUIRED, perm=REQUIRED,
                                        apply_to_children=Opt("none")) -> dict[str, Any]:
    group = c.repo_group(repogroupid, "admin")
    user = c.world.user_or_error(userid)
    perm = perm_or_error(perm, prefix="group.")
    recursive = extract(apply_to_children)
    _apply(c.world, _targets(c.world, group, recursive), user.user_id, None, perm)
    c.world.audit("repo_group.edit.permissions", c.user, c.ip)
    return {"msg": f"Granted perm: `{perm}` (recursive:{recursive}) for user: `{user.username}` in repo group: "
                   f"`{group.short_name}`", "success": True}


@api(MODULE)
def revoke_user_group_permission_from_repo_group(c: Call, repogroupid=REQUIRED, usergroupid=REQUIRED,
                                                 apply_to_children=Opt("none")) -> dict[str, Any]:
    group = c.repo_group(repogroupid, "admin")
    user_group = c.user_group(usergroupid, None if c.admin else "read")
    recursive = extract(apply_to_children)
    _apply(c.world, _targets(c.world, group, recursive), None, user_group.users_group_id, None)
    c.world.audit("repo_group.edit.permissions", c.user, c.ip)
    return {"msg": f"Revoked perm (recursive:{recursive}) for user group: `{user_group.name}` in repo group: "
                   f"`{group.short_name}`", "success": True}


@api(MODULE)
def revoke_user_permission_from_repo_group(c: Call, repogroupid=REQUIRED, userid=REQUIRED,
                                           apply_to_children=Opt("none")) -> dict[str, Any]:
    group = c.repo_group(repogroupid, "admin")
    user = c.world.user_or_error(userid)
    recursive = extract(apply_to_children)
    _apply(c.world, _targets(c.world, group, recursive), user.user_id, None, None)
    c.world.audit("repo_group.edit.permissions", c.user, c.ip)
    return {"msg": f"Revoked perm (recursive:{recursive}) for user: `{user.username}` in repo group: "
                   f"`{group.short_name}`", "success": True}


@api(MODULE)
def update_repo_group(c: Call, repogroupid=REQUIRED, group_name=Opt(""), description=Opt(""), owner=APIUSER,
                      enable_locking=Opt(False)) -> dict[str, Any]:
    world = c.world
    group = c.repo_group(repogroupid, "admin")
    new_name = group_name if given(group_name) and group_name else group.name
    new_owner = world.user_or_error(owner) if given(owner) else world.users[group.owner_id]
    _validate_name(c, new_name, current=group)
    if new_name != group.name:
        repo_model.rename_group_contents(world, group.name, new_name)
        group.name = new_name
    if given(description):
        group.description = description
    group.owner_id = new_owner.user_id
    if given(enable_locking):
        group.enable_locking = as_bool(enable_locking)
    world.audit("repo_group.edit", c.user, c.ip)
    return {"msg": f"updated repository group ID:{group.group_id} {group.name}",
            "repo_group": shapes.repo_group(world, group)}
