"""What 4.22's RepoModel does for the API: create, validate, refresh and remove repositories."""
from __future__ import annotations

from typing import Any

from .. import perms, py2
from ..errors import InternalError, validation_error
from ..rpc import Call, as_bool
from ..vcs import RepoContent
from ..model import DEFAULT_USER_ID, ChangesetCache, Repo, RepoGroup, User
from ..world import World

# 4.22's ScmModel.backend_landing_ref: the default landing ref of each repository type
LANDING_REF = {"hg": "branch:default", "git": "branch:master", "svn": "rev:tip"}


def landing_ref(repo_type: Any) -> str:
    try:
        return LANDING_REF[repo_type]
    except (KeyError, TypeError):
        raise InternalError("KeyError") from None  # 4.22 crashes on an unknown type


def landing_choices(repo_type: str, repo: Repo | None) -> list[str]:
    """get_repo_landing_revs plus the backend's default, as the Python 2 set 4.22 builds."""
    choices = ["rev:tip"]
    if repo is not None:
        refs = repo.content.refs
        choices += [f"branch:{b}" for b in refs.get("branches", {})]
        choices += [f"book:{b}" for b in refs.get("bookmarks", {})]
        choices += [f"tag:{t}" for t in refs.get("tags", {})]
    return py2.key_order(dict.fromkeys(choices + [landing_ref(repo_type)]))


def validate_location(c: Call, name: Any, current: Repo | None = None) -> RepoGroup | None:
    """RepoSchema's group and name checks: the parent group exists, the caller may store a
    repository there, the name is free. Raises the validation error object."""
    if not isinstance(name, str) or not name.strip("/"):
        raise validation_error({"repo_name": "Required"})
    world = c.world
    parent_name = name.rpartition("/")[0]
    parent = None
    if parent_name:
        parent = world.find_repo_group(parent_name)
        if parent is None:
            raise validation_error({"repo_group": f"Repository group `{parent_name}` does not exist"})
        if not c.admin and (current is None or current.group_name != parent_name):
            group_perm = perms.repo_group_perm(world, c.user, parent)
            writable = perms.level(group_perm) >= 3 or (
                perms.level(group_perm) == 2 and perms.has_global(c.user, "hg.create.write_on_repogroup.true"))
            if not writable:
                raise validation_error({"repo_group": "You do not have the permissions to store repositories "
                                                      f"inside repository group `{parent_name}`"})
    elif not c.admin and current is None and not perms.has_global(c.user, "hg.create.repository"):
        raise validation_error({"repo_name": "You do not have the permission to store repositories in the "
                                             "root location."})
    other = world.find_repo(name)
    if other is not None and other is not current:
        raise validation_error({"unique_repo_name": f"Repository with name `{name}` already exists"})
    return parent


def validate_landing(value: str, repo_type: str, repo: Repo | None) -> None:
    choices = landing_choices(repo_type, repo)
    if value not in choices:
        raise validation_error({"repo_landing_commit_ref": f'"{value}" is not one of {", ".join(choices)}'})


def fresh_cache(world: World, repo_content: RepoContent) -> ChangesetCache:
    return ChangesetCache(repo_content.head, world.epoch(), flipped=False)


def refresh_cache(world: World, repo: Repo) -> None:
    """4.22's update_commit_cache: a new last commit (or an empty repository) is computed
    afresh; an unchanged one is re-stored from its JSON, which flips its key order."""
    head = repo.content.head
    if head is None or head != repo.cache.commit_id:
        repo.cache = fresh_cache(world, repo.content)
    else:
        repo.cache = ChangesetCache(head, world.epoch(), not repo.cache.flipped)


def own_repo_by_url(world: World, url: Any) -> Repo | None:
    """The repository of this stand-in a clone/pull URL points at, if any."""
    if not isinstance(url, str) or not url.startswith(world.base_url + "/"):
        return None
    return world.find_repo(url[len(world.base_url) + 1:].strip("/"))


def new_repo(c: Call, name: str, repo_type: str, owner: User, *, description: str, private: bool,
             landing: str, clone_uri: str | None = None, push_uri: str | None = None, group: RepoGroup | None,
             copy_permissions: bool = False, fork_of: Repo | None = None, enable_statistics: bool = False,
             enable_locking: bool = False, enable_downloads: bool = False) -> Repo:
    world = c.world
    content = RepoContent()
    if fork_of is not None:
        content = fork_of.content.copy()
    else:
        source = own_repo_by_url(world, clone_uri)
        if source is not None:  # cloned synchronously (no celery)
            content = source.content.copy()
    repo = Repo(world.next_id("repo"), name, repo_type, owner.user_id, world.now(), content,
                fresh_cache(world, content), description=description or name.rsplit("/", 1)[-1],
                private=as_bool(private),
                clone_uri=clone_uri or "", push_uri=push_uri or "", landing_rev=landing,
                enable_statistics=as_bool(enable_statistics), enable_locking=as_bool(enable_locking),
                enable_downloads=as_bool(enable_downloads), fork_of_id=fork_of.repo_id if fork_of else None)
    if fork_of is not None and copy_permissions:
        repo.user_perms.update(fork_of.user_perms)
        for gid, perm in fork_of.group_perms.items():
            world.grant_group(repo, gid, perm)
        if private:
            repo.user_perms[DEFAULT_USER_ID] = "repository.none"
    elif group is not None and copy_permissions:
        for uid, perm in group.user_perms.items():
            repo.user_perms[uid] = perm.replace("group.", "repository.")
        for gid, perm in group.group_perms.items():
            world.grant_group(repo, gid, perm.replace("group.", "repository."))
        if private:
            repo.user_perms[DEFAULT_USER_ID] = "repository.none"
    else:
        repo.user_perms[DEFAULT_USER_ID] = "repository.none" if private else "repository.read"
    repo.followers = [owner.user_id]
    world.repos[repo.repo_id] = repo
    # the creation is logged for the owner, without the request's address, under the short name
    world.audit("repo.fork" if fork_of else "repo.create", owner, None, repo, repo_name=repo.short_name)
    return repo


def delete_repo(world: World, repo: Repo) -> None:
    del world.repos[repo.repo_id]
    for other in world.repos.values():
        if other.fork_of_id == repo.repo_id:
            other.fork_of_id = None
    for gid in list(repo.group_perms):
        world.revoke_group(repo, gid)
    for comment in [x for x in world.comments.values() if x.repo_id == repo.repo_id]:
        del world.comments[comment.comment_id]
    for entry in world.audit_log:
        if entry.repository_id == repo.repo_id:
            entry.repository_id = None


def rename_group_contents(world: World, old: str, new: str) -> None:
    """A renamed repository group takes its sub-groups and repositories along."""
    for group in world.repo_groups.values():
        if group.name.startswith(old + "/"):
            group.name = new + group.name[len(old):]
    for repo in world.repos.values():
        if repo.name.startswith(old + "/"):
            repo.name = new + repo.name[len(old):]

