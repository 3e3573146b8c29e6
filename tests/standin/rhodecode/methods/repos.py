"""4.22's repo_api, part 1: repositories, their permissions, fields, settings, locks, pulls."""
from __future__ import annotations

from typing import Any

from .. import perms, shapes
from ..errors import Forbidden, RpcError, validation_error
from ..rpc import APIUSER, REQUIRED, Call, Opt, api, as_bool, extract, given, perm_or_error
from ..model import DEFAULT_USER_ID, ExtraField, Lock, format_time, from_epoch
from . import repo_model

MODULE = "repo_api"


@api(MODULE)
def add_field_to_repo(c: Call, repoid=REQUIRED, key=REQUIRED, label=Opt(""), description=Opt("")) -> dict[str, Any]:
    repo = c.repo(repoid, "admin")
    if key in repo.fields:
        raise RpcError(f"Field with key `{key}` exists for repo `{repoid}`")
    repo.fields[key] = ExtraField(extract(label) or key, extract(description))
    return {"msg": f"Added new repository field `{key}`", "success": True}


@api(MODULE)
def create_repo(c: Call, repo_name=REQUIRED, repo_type=REQUIRED, owner=APIUSER, description=Opt(""),
                private=Opt(False), clone_uri=Opt(None), push_uri=Opt(None), landing_rev=Opt(None),
                enable_statistics=Opt(False), enable_locking=Opt(False), enable_downloads=Opt(False),
                copy_permissions=Opt(False)) -> dict[str, Any]:
    owner_user = c.owner(owner)
    default_landing = repo_model.landing_ref(repo_type)
    group = repo_model.validate_location(c, repo_name)
    landing = extract(landing_rev) or default_landing
    repo_model.validate_landing(landing, repo_type, None)
    repo_model.new_repo(c, repo_name, repo_type, owner_user, description=extract(description),
                        private=extract(private), landing=landing, clone_uri=extract(clone_uri),
                        push_uri=extract(push_uri), group=group, copy_permissions=extract(copy_permissions),
                        enable_statistics=extract(enable_statistics), enable_locking=extract(enable_locking),
                        enable_downloads=extract(enable_downloads))
    return {"msg": f"Created new repository `{repo_name}`", "task": None, "success": True}


@api(MODULE)
def delete_repo(c: Call, repoid=REQUIRED, forks=Opt("")) -> dict[str, Any]:
    world = c.world
    repo = c.repo(repoid, "admin")
    children = [r for r in world.repos.values() if r.fork_of_id == repo.repo_id]
    handle = extract(forks)
    has_pull_requests = any(repo.repo_id in (p.source_repo_id, p.target_repo_id) for p in world.pull_requests.values())
    # 4.22 reports attached forks or pull requests only through its generic failure
    if (children and handle not in ("detach", "delete")) or has_pull_requests:
        raise RpcError(f"failed to delete repository `{repo.name}`")
    suffix = ""
    if handle == "detach":
        suffix = f" Detached {len(children)} forks"
    elif handle == "delete":
        suffix = f" Deleted {len(children)} forks"
        for child in children:
            repo_model.delete_repo(world, child)
    repo_model.delete_repo(world, repo)
    world.audit("repo.delete", c.user, c.ip, repo_name=repo.name)
    return {"msg": f"Deleted repository `{repo.name}`{suffix}", "success": True}


@api(MODULE)
def fork_repo(c: Call, repoid=REQUIRED, fork_name=REQUIRED, owner=APIUSER, description=Opt(""),
              private=Opt(False), clone_uri=Opt(None), landing_rev=Opt(None),
              copy_permissions=Opt(False)) -> dict[str, Any]:
    repo = c.world.repo_or_error(repoid)
    if not c.admin:
        c.check_repo(repoid, repo, "read")
        if not perms.has_global(c.user, "hg.fork.repository"):
            raise Forbidden()
    owner_user = c.owner(owner)
    group = repo_model.validate_location(c, fork_name)
    landing = extract(landing_rev) or repo_model.landing_ref(repo.repo_type)
    repo_model.validate_landing(landing, repo.repo_type, None)
    repo_model.new_repo(c, fork_name, repo.repo_type, owner_user, description=extract(description),
                        private=extract(private), landing=landing, group=group,
                        copy_permissions=extract(copy_permissions), fork_of=repo)
    return {"msg": f"Created fork of `{repo.name}` as `{fork_name}`", "task": None, "success": True}


@api(MODULE)
def get_repo(c: Call, repoid=REQUIRED, cache=Opt(True)) -> dict[str, Any]:
    repo = c.repo(repoid, "read")
    if not as_bool(extract(cache)):
        repo_model.refresh_cache(c.world, repo)
    return shapes.repo_full(c.world, repo, secrets=c.admin)


@api(MODULE)
def get_repo_settings(c: Call, repoid=REQUIRED, key=Opt(None)) -> Any:
    repo = c.repo(repoid, "admin")
    settings = shapes.vcs_settings(c.world, repo)
    return settings.get(key) if extract(key) is not None else settings


@api(MODULE)
def get_repos(c: Call, root=Opt(None), traverse=Opt(True)) -> list[dict[str, Any]]:
    world = c.world
    root_name = extract(root)
    deep = as_bool(extract(traverse))
    repos = sorted(world.repos.values(), key=lambda r: r.repo_id)
    if root_name:
        if world.find_repo_group(root_name) is None or not isinstance(root_name, str):
            raise RpcError(f"Root repository group `{root_name}` does not exist")
        if deep:
            repos = [r for r in repos if r.name.startswith(root_name + "/")]
        else:
            repos = [r for r in repos if r.group_name == root_name]
    elif not deep:
        repos = [r for r in repos if r.group_name is None]
    return [shapes.repo(world, r, secrets=c.admin) for r in repos if perms.has_repo(world, c.user, r, "read")]


@api(MODULE)
def grant_user_group_permission(c: Call, repoid=REQUIRED, usergroupid=REQUIRED, perm=REQUIRED) -> dict[str, Any]:
    repo = c.world.repo_or_error(repoid)
    perm = perm_or_error(perm)
    if not c.admin:
        c.check_repo(repoid, repo, "admin")
    group = c.user_group(usergroupid, None if c.admin else "read")
    c.world.grant_group(repo, group.users_group_id, perm)
    c.world.audit("repo.edit.permissions", c.user, c.ip, repo)
    return {"msg": f"Granted perm: `{perm}` for user group: `{group.name}` in repo: `{repo.name}`", "success": True}


@api(MODULE)
def grant_user_permission(c: Call, repoid=REQUIRED, userid=REQUIRED, perm=REQUIRED) -> dict[str, Any]:
    repo = c.world.repo_or_error(repoid)
    user = c.world.user_or_error(userid)
    perm = perm_or_error(perm)  # any existing permission: 4.22 stores `group.read` on a repository too
    if not c.admin:
        c.check_repo(repoid, repo, "admin")
    repo.user_perms[user.user_id] = perm
    c.world.audit("repo.edit.permissions", c.user, c.ip, repo)
    return {"msg": f"Granted perm: `{perm}` for user: `{user.username}` in repo: `{repo.name}`", "success": True}


@api(MODULE)
def invalidate_cache(c: Call, repoid=REQUIRED, delete_keys=Opt(False)) -> dict[str, Any]:
    repo = c.repo(repoid, "admin")
    repo_model.refresh_cache(c.world, repo)  # mark_for_invalidation re-stores the commit cache
    return {"msg": f"Cache for repository `{repoid}` was invalidated", "repository": repo.name}


@api(MODULE)
def lock(c: Call, repoid=REQUIRED, locked=Opt(None), userid=APIUSER) -> dict[str, Any]:
    world = c.world
    repo = world.repo_or_error(repoid)
    if not c.admin:
        c.check_repo(repoid, repo, "write")
        if given(userid) and userid != c.user.user_id:
            raise RpcError("userid is not the same as your user")
    user = c.user if not given(userid) else world.user_or_error(userid)
    if not given(locked):
        if repo.lock is None:
            return {"locked": False, "locked_since": None, "lock_reason": None, "locked_by": None,
                    "repo": repo.name, "lock_state_changed": False, "msg": f"Repo `{repo.name}` not locked."}
        # 4.22 names `userid` (default: the caller) here, and the stored time is a string
        when = format_time(from_epoch(float(repo.lock.since)))
        return {"locked": True, "locked_since": repo.lock.since, "lock_reason": repo.lock.reason,
                "locked_by": user.username, "repo": repo.name, "lock_state_changed": False,
                "msg": f'Repo `{repo.name}` locked by `{user.username}` on `"{when}"`.'}
    state = as_bool(extract(locked))
    since = world.epoch() if state else None
    repo.lock = Lock(user.user_id, format(since, ".12g"), "lock_api") if state else None
    return {"locked": state, "locked_since": since, "lock_reason": "lock_api", "locked_by": user.username,
            "repo": repo.name, "lock_state_changed": True,
            "msg": f"User `{user.username}` set lock state for repo `{repo.name}` to `{state}`"}


@api(MODULE)
def maintenance(c: Call, repoid=REQUIRED) -> dict[str, Any]:
    repo = c.repo(repoid, "admin")
    repo_model.refresh_cache(c.world, repo)
    return {"msg": "executed maintenance command", "executed_actions": [], "repository": repo.name}


@api(MODULE)
def pull(c: Call, repoid=REQUIRED, remote_uri=Opt(None)) -> dict[str, Any]:
    world = c.world
    repo = world.repo_or_error(repoid)
    remote = extract(remote_uri)
    shown = remote or repo.clone_uri or ""
    if not c.admin:
        c.check_repo(repoid, repo, "admin")
    source = repo_model.own_repo_by_url(world, remote or repo.clone_uri)
    if source is None:  # nothing this stand-in serves: the pull fails like an unreachable remote
        raise RpcError(f"Unable to pull changes from `{shown}`")
    repo.content.merge_from(source.content)
    repo_model.refresh_cache(c.world, repo)
    return {"msg": f"Pulled from url `{shown}` on repo `{repo.name}`", "repository": repo.name}


@api(MODULE)
def remove_field_from_repo(c: Call, repoid=REQUIRED, key=REQUIRED) -> dict[str, Any]:
    repo = c.repo(repoid, "admin")
    if key not in repo.fields:
        raise RpcError(f"Field with key `{key}` does not exists for repo `{repoid}`")
    del repo.fields[key]
    return {"msg": f"Deleted repository field `{key}`", "success": True}


@api(MODULE)
def revoke_user_group_permission(c: Call, repoid=REQUIRED, usergroupid=REQUIRED) -> dict[str, Any]:
    repo = c.world.repo_or_error(repoid)
    if not c.admin:
        c.check_repo(repoid, repo, "admin")
    group = c.user_group(usergroupid, None if c.admin else "read")
    c.world.revoke_group(repo, group.users_group_id)
    c.world.audit("repo.edit.permissions", c.user, c.ip, repo)
    return {"msg": f"Revoked perm for user group: `{group.name}` in repo: `{repo.name}`", "success": True}


@api(MODULE)
def revoke_user_permission(c: Call, repoid=REQUIRED, userid=REQUIRED) -> dict[str, Any]:
    repo = c.world.repo_or_error(repoid)
    user = c.world.user_or_error(userid)
    if not c.admin:
        c.check_repo(repoid, repo, "admin")
    repo.user_perms.pop(user.user_id, None)
    c.world.audit("repo.edit.permissions", c.user, c.ip, repo)
    return {"msg": f"Revoked perm for user: `{user.username}` in repo: `{repo.name}`", "success": True}


@api(MODULE)
def set_repo_settings(c: Call, repoid=REQUIRED, settings=REQUIRED) -> bool:
    repo = c.repo(repoid, "admin")
    if not isinstance(settings, dict):
        raise RpcError("Settings have to be a JSON Object.")
    # 4.22 merges the global, the repository's own and the given settings, then stores them all
    merged = dict(c.world.global_vcs_settings)
    merged.update(repo.settings or {})
    merged.update(settings)
    if merged.get("inherit_global_settings", False):
        repo.settings = None
    else:
        derived = {"extensions_topic", "experimental_evolution", "experimental_evolution_exchange"}
        if any(k not in merged for k in shapes.REPO_VCS_SETTINGS if k not in derived):
            raise RpcError(f"Failed to update settings for repository `{repoid}`")
        local = {k: merged[k] for k in shapes.REPO_VCS_SETTINGS if k not in derived}
        # the evolve extension's companions follow it; their stored values are fixed
        local.update(extensions_topic=merged["extensions_evolve"], experimental_evolution="",
                     experimental_evolution_exchange="no")
        repo.settings = local
    repo_model.refresh_cache(c.world, repo)  # the settings change invalidates the repository's caches
    return True


@api(MODULE)
def strip(c: Call, repoid=REQUIRED, revision=REQUIRED, branch=REQUIRED) -> dict[str, Any]:
    repo = c.repo(repoid, "admin")
    commit = repo.content.resolve(revision)
    if commit is None:
        raise RpcError(f"Unable to strip commit {revision} from repo `{repo.name}`")
    gone = {x for x in repo.content.commits if commit in repo.content.ancestors(x, c.world.commits)}
    repo.content.commits = [x for x in repo.content.commits if x not in gone]
    for refs in repo.content.refs.values():
        for name in [n for n, target in refs.items() if target in gone]:
            del refs[name]
    repo_model.refresh_cache(c.world, repo)
    return {"msg": f"Stripped commit {commit} from repo `{repo.name}`", "repository": repo.name}


@api(MODULE)
def update_repo(c: Call, repoid=REQUIRED, repo_name=Opt(None), owner=APIUSER, description=Opt(""),
                private=Opt(False), clone_uri=Opt(None), push_uri=Opt(None), landing_rev=Opt(None),
                fork_of=Opt(None), enable_statistics=Opt(False), enable_locking=Opt(False),
                enable_downloads=Opt(False), fields=Opt("")) -> dict[str, Any]:
    world = c.world
    repo = c.repo(repoid, "admin")
    new_name = repo_name if given(repo_name) else repo.name
    new_owner = world.user_or_error(owner) if given(owner) else world.users[repo.owner_id]
    repo_model.validate_location(c, new_name, current=repo)
    landing = landing_rev if given(landing_rev) else repo.landing_rev
    repo_model.validate_landing(landing, repo.repo_type, repo)
    fork = None
    if given(fork_of) and fork_of:
        fork = world.find_repo(fork_of)
        if fork is None:
            raise validation_error({"repo_fork_of": f"Fork with id `{fork_of}` does not exists"})
    for key, value in (("description", description), ("clone_uri", clone_uri), ("push_uri", push_uri),
                       ("enable_statistics", enable_statistics), ("enable_locking", enable_locking),
                       ("enable_downloads", enable_downloads)):
        if given(value):
            setattr(repo, key, value if key in ("description", "clone_uri", "push_uri") else as_bool(value))
    if given(private):
        repo.private = as_bool(private)
    if repo.private:  # 4.22 resets the default permission of a private repository to none
        repo.user_perms[DEFAULT_USER_ID] = "repository.none"
    repo.landing_rev = landing
    repo.owner_id = new_owner.user_id
    if fork is not None:
        repo.fork_of_id = fork.repo_id
    for pair in str(extract(fields) or "").split(","):
        key, _, value = pair.partition(":")
        if key.strip() in repo.fields:
            repo.fields[key.strip()].value = value
    repo.name = new_name
    world.audit("repo.edit", c.user, c.ip, repo)
    return {"msg": f"updated repo ID:{repo.repo_id} {repo.name}", "repository": shapes.repo(world, repo, c.admin)}
