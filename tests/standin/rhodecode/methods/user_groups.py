"""4.22's user_group_api: user groups, their members and permissions."""
from __future__ import annotations

import re
from typing import Any

from .. import perms, shapes
from ..errors import Forbidden, RpcError, validation_error
from ..rpc import APIUSER, REQUIRED, Call, Opt, api, as_bool, extract, given, perm_or_error
from ..model import DEFAULT_USER_ID, UserGroup

MODULE = "user_group_api"
GROUP_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")


@api(MODULE)
def add_user_to_user_group(c: Call, usergroupid=REQUIRED, userid=REQUIRED) -> dict[str, Any]:
    user = c.world.user_or_error(userid)
    group = c.user_group(usergroupid, "admin")
    if user.user_id in group.members:
        return {"msg": "User is already in that group", "success": False}
    group.members.append(user.user_id)
    c.world.audit("user_group.edit.member.add", c.user, c.ip)
    return {"msg": f"added member `{user.username}` to user group `{group.name}`", "success": True}


@api(MODULE)
def create_user_group(c: Call, group_name=REQUIRED, description=Opt(""), owner=APIUSER, active=Opt(True),
                      sync=Opt(None)) -> dict[str, Any]:
    if not perms.has_global(c.user, "hg.usergroup.create.true"):
        raise Forbidden()
    world = c.world
    if world.find_user_group(group_name) is not None and isinstance(group_name, str):
        raise RpcError(f"user group `{group_name}` already exist")
    owner_user = world.user_or_error(owner) if given(owner) else c.user
    if not isinstance(group_name, str) or not GROUP_NAME.match(group_name):
        raise validation_error({"user_group_name": "Allowed in name are letters, numbers, and `-`, `_`, `.` Name "
                                                   f"must start with a letter or number. Got `{group_name}`"})
    group = UserGroup(world.next_id("user_group"), group_name, owner_user.user_id, extract(description),
                      as_bool(extract(active)), "manual_api" if as_bool(extract(sync)) else None)
    group.user_perms[DEFAULT_USER_ID] = "usergroup.read"  # 4.22 sets the default, then the owner's admin
    group.user_perms[owner_user.user_id] = "usergroup.admin"
    world.user_groups[group.users_group_id] = group
    world.audit("user_group.create", c.user, c.ip)
    return {"msg": f"created new user group `{group_name}`",
            "user_group": shapes.user_group(world, group, secrets=c.admin)}


@api(MODULE)
def delete_user_group(c: Call, usergroupid=REQUIRED) -> dict[str, Any]:
    world = c.world
    group = c.user_group(usergroupid, "admin")
    # 4.22 refuses while the group holds permissions, naming the objects in grant order
    repos = world.granted_to(world.repos.values(), group)
    groups = world.granted_to(world.repo_groups.values(), group)
    assigned = [f"<Repository('{r.repo_id}:{r.name}')>" for r in repos]
    assigned += [f"<RepoGroup('id:{g.group_id}:{g.name}')>" for g in groups]
    if assigned:
        raise RpcError("UserGroup assigned to " + ",".join(assigned))
    del world.user_groups[group.users_group_id]
    for other in world.user_groups.values():
        other.group_perms.pop(group.users_group_id, None)
    world.audit("user_group.delete", c.user, c.ip)
    return {"msg": f"deleted user group ID:{group.users_group_id} {group.name}", "user_group": None}


@api(MODULE)
def get_user_group(c: Call, usergroupid=REQUIRED) -> dict[str, Any]:
    group = c.user_group(usergroupid, "read")
    return shapes.user_group_full(c.world, group)


@api(MODULE)
def get_user_groups(c: Call) -> list[dict[str, Any]]:
    # this listing shows the members ordered by user id (get_user_group: in the order added)
    return [shapes.user_group(c.world, g, secrets=c.admin, members_by_id=True)
            for g in sorted(c.world.user_groups.values(), key=lambda g: g.users_group_id)
            if perms.has_user_group(c.world, c.user, g, "read")]


@api(MODULE)
def grant_user_group_permission_to_user_group(c: Call, usergroupid=REQUIRED, sourceusergroupid=REQUIRED,
                                              perm=REQUIRED) -> dict[str, Any]:
    world = c.world
    source = world.user_group_or_error(sourceusergroupid)
    target = world.user_group_or_error(usergroupid)
    perm = perm_or_error(perm, prefix="usergroup.")
    if not c.admin:
        if not perms.has_user_group(world, c.user, target, "admin"):
            raise RpcError(f"to user group `{usergroupid}` does not exist")
        c.check_user_group(sourceusergroupid, source, "read")
    if source is target:
        raise RpcError(f"failed to edit permission for user group: `{sourceusergroupid}` in "
                       f"user group: `{target.name}`")
    target.group_perms[source.users_group_id] = perm
    world.audit("user_group.edit.permissions", c.user, c.ip)
    return {"msg": f"Granted perm: `{perm}` for user group: `{source.name}` in user group: `{target.name}`",
            "success": True}


@api(MODULE)
def grant_user_permission_to_user_group(c: Call, usergroupid=REQUIRED, userid=REQUIRED,
                                        perm=REQUIRED) -> dict[str, Any]:
    group = c.user_group(usergroupid, "admin")
    user = c.world.user_or_error(userid)
    perm = perm_or_error(perm, prefix="usergroup.")
    group.user_perms[user.user_id] = perm
    c.world.audit("user_group.edit.permissions", c.user, c.ip)
    return {"msg": f"Granted perm: `{perm}` for user: `{user.username}` in user group: `{group.name}`",
            "success": True}


@api(MODULE)
def remove_user_from_user_group(c: Call, usergroupid=REQUIRED, userid=REQUIRED) -> dict[str, Any]:
    user = c.world.user_or_error(userid)
    group = c.user_group(usergroupid, "admin")
    if user.user_id not in group.members:
        return {"msg": "User wasn't in group", "success": False}
    group.members.remove(user.user_id)
    c.world.audit("user_group.edit.member.delete", c.user, c.ip)
    return {"msg": f"removed member `{user.username}` from user group `{group.name}`", "success": True}


@api(MODULE)
def revoke_user_group_permission_from_user_group(c: Call, usergroupid=REQUIRED,
                                                 sourceusergroupid=REQUIRED) -> dict[str, Any]:
    world = c.world
    source = world.user_group_or_error(sourceusergroupid)
    target = world.user_group_or_error(usergroupid)
    if not c.admin:
        if not perms.has_user_group(world, c.user, target, "admin"):
            raise RpcError(f"to user group `{usergroupid}` does not exist")
        c.check_user_group(sourceusergroupid, source, "read")
    target.group_perms.pop(source.users_group_id, None)
    world.audit("user_group.edit.permissions", c.user, c.ip)
    return {"msg": f"Revoked perm for user group: `{source.name}` in user group: `{target.name}`",
            "success": True}


@api(MODULE)
def revoke_user_permission_from_user_group(c: Call, usergroupid=REQUIRED, userid=REQUIRED) -> dict[str, Any]:
    group = c.user_group(usergroupid, "admin")
    user = c.world.user_or_error(userid)
    group.user_perms.pop(user.user_id, None)
    c.world.audit("user_group.edit.permissions", c.user, c.ip)
    return {"msg": f"Revoked perm for user: `{user.username}` in user group: `{group.name}`", "success": True}


@api(MODULE)
def update_user_group(c: Call, usergroupid=REQUIRED, group_name=Opt(""), description=Opt(""), owner=Opt(None),
                      active=Opt(True), sync=Opt(None)) -> dict[str, Any]:
    world = c.world
    group = c.user_group(usergroupid, "admin")
    owner_user = world.user_or_error(owner) if given(owner) else None
    if given(group_name) and group_name != group.name:
        if not isinstance(group_name, str) or world.find_user_group(group_name) is not None:
            raise RpcError(f"failed to update user group `{usergroupid}`")
        group.name = group_name
    if given(description):
        group.description = description
    if owner_user is not None:
        group.owner_id = owner_user.user_id
    if given(active):
        group.active = as_bool(active)
    if extract(sync) is True:
        group.sync = "manual_api"
    elif extract(sync) is False:
        group.sync = None
    world.audit("user_group.edit", c.user, c.ip)
    return {"msg": f"updated user group ID:{group.users_group_id} {group.name}",
            "user_group": shapes.user_group(world, group, secrets=c.admin)}
