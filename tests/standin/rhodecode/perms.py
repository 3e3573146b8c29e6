"""Who may do what: 4.22's permission model, simplified to what the API shows.

A super-admin holds `*.admin` everywhere and an owner holds it on what they own. Otherwise
the default user's permission on the object applies, raised by the permissions of the
(active) user groups the user is in, and replaced by a permission granted to the user
directly. Permissions rank none < read < write < admin by their suffix (4.22 stores a
wrong-typed permission such as `group.read` on a repository as it is).
"""
from __future__ import annotations

from typing import Any, Iterable

from .model import DEFAULT_USER_ID, Repo, RepoGroup, User, UserGroup
from .world import World

LEVELS = ("none", "read", "write", "admin")
REPO_PERMS = tuple(f"repository.{x}" for x in LEVELS)
GROUP_PERMS = tuple(f"group.{x}" for x in LEVELS)
USERGROUP_PERMS = tuple(f"usergroup.{x}" for x in LEVELS)
# the permission names of a 4.22 database (get_perm_or_error only checks that one exists)
KNOWN_PERMS = frozenset(REPO_PERMS + GROUP_PERMS + USERGROUP_PERMS + (
    "branch.none", "branch.merge", "branch.push", "branch.push_force", "hg.admin", "hg.create.none",
    "hg.create.repository", "hg.fork.none", "hg.fork.repository", "hg.repogroup.create.false",
    "hg.repogroup.create.true", "hg.usergroup.create.false", "hg.usergroup.create.true",
    "hg.create.write_on_repogroup.false", "hg.create.write_on_repogroup.true", "hg.register.none",
    "hg.register.manual_activate", "hg.register.auto_activate", "hg.password_reset.enabled",
    "hg.password_reset.hidden", "hg.password_reset.disabled", "hg.extern_activate.manual",
    "hg.extern_activate.auto", "hg.inherit_default_perms.false", "hg.inherit_default_perms.true"))
_PERMS_ORDER = {"admin": "1", "write": "2", "read": "3", "none": "4"}


def level(perm: str) -> int:
    suffix = perm.rsplit(".", 1)[-1]
    return LEVELS.index(suffix) if suffix in LEVELS else 0


def _effective(world: World, user: User, owner_id: int, user_perms: dict[int, str],
               group_perms: dict[int, str], kind: str) -> str:
    if user.admin or owner_id == user.user_id:
        return f"{kind}.admin"
    if user.user_id in user_perms:
        return user_perms[user.user_id]
    best = user_perms.get(DEFAULT_USER_ID, f"{kind}.none")
    for group_id, perm in group_perms.items():
        group = world.user_groups.get(group_id)
        if group and group.active and user.user_id in group.members and level(perm) > level(best):
            best = perm
    return best


def repo_perm(world: World, user: User, repo: Repo) -> str:
    perm = _effective(world, user, repo.owner_id, repo.user_perms, repo.group_perms, "repository")
    return "repository." + perm.rsplit(".", 1)[-1]


def repo_group_perm(world: World, user: User, group: RepoGroup) -> str:
    perm = _effective(world, user, group.owner_id, group.user_perms, group.group_perms, "group")
    return "group." + perm.rsplit(".", 1)[-1]


def user_group_perm(world: World, user: User, group: UserGroup) -> str:
    perm = _effective(world, user, group.owner_id, group.user_perms, group.group_perms, "usergroup")
    return "usergroup." + perm.rsplit(".", 1)[-1]


def has_repo(world: World, user: User, repo: Repo, minimum: str) -> bool:
    return level(repo_perm(world, user, repo)) >= LEVELS.index(minimum)


def has_repo_group(world: World, user: User, group: RepoGroup, minimum: str) -> bool:
    return level(repo_group_perm(world, user, group)) >= LEVELS.index(minimum)


def has_user_group(world: World, user: User, group: UserGroup, minimum: str) -> bool:
    return level(user_group_perm(world, user, group)) >= LEVELS.index(minimum)


def has_global(user: User, *perms: str) -> bool:
    return user.admin or any(p in user.global_perms for p in perms)


def entries(world: World, owner_id: int, user_perms: dict[int, str], group_perms: dict[int, str],
            admin_perm: str) -> list[tuple[str, str, str, str]]:
    """(origin, type, name, permission) rows as 4.22's `.permissions()` lists them:
    super-admins (other than the owner), the owner, then the granted permissions, the
    default user first, by level and name; then the user groups'."""
    admins = sorted((u for u in world.users.values() if u.admin and u.user_id != owner_id), key=lambda u: u.user_id)
    rows = [("super-admin", "user", u.username, admin_perm) for u in admins]
    rows.append(("owner", "user", world.users[owner_id].username, admin_perm))

    def user_key(item: tuple[int, str]) -> str:
        user = world.users[item[0]]
        if user.user_id == DEFAULT_USER_ID:
            return "#####"
        return _PERMS_ORDER.get(item[1].rsplit(".", 1)[-1], "") + user.sort_key

    def group_key(item: tuple[int, str]) -> str:
        return _PERMS_ORDER.get(item[1].rsplit(".", 1)[-1], "") + world.user_groups[item[0]].name

    rows += [("permission", "user", world.users[uid].username, perm)
             for uid, perm in sorted(user_perms.items(), key=user_key)]
    rows += [("permission", "user_group", world.user_groups[gid].name, perm)
             for gid, perm in sorted(group_perms.items(), key=group_key)]
    return rows


def by_rank(objects: Iterable[Any], id_of: Any) -> list[Any]:
    """Objects in the order the recorded permission maps listed them (Python 2 dict order of
    the original names), those created at run time after them in creation order."""
    return sorted(objects, key=lambda o: (o.rank is None, o.rank if o.rank is not None else id_of(o)))
