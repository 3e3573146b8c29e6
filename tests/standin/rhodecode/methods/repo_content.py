"""4.22's repo_api, part 2: commits, files and refs (served from the recorded content)."""
from __future__ import annotations

from typing import Any

from .. import shapes
from ..errors import InternalError, RpcError
from ..rpc import REQUIRED, Call, Opt, api, extract
from ..vcs import Commit, stub_commit, walk
from ..model import Repo
from ..world import World

MODULE = "repo_api"


def _commit(world: World, raw_id: str) -> Commit:
    return world.commits.get(raw_id) or stub_commit(raw_id)


def _diff(commit: Commit, details: str) -> list[dict[str, Any]]:
    """build_commit_data: nothing for `basic`; changed files for `extended`; patches for `full`."""
    if details == "extended":
        if commit.extended is not None:
            return [dict(e) for e in commit.extended]
        ops = [(e["filename"], e["op"]) for e in commit.full or []]
        return [shapes.diff_entry(name, op) for kind in "AMD" for name, op in ops if op == kind]
    if details == "full":
        return [shapes.diff_entry(e["filename"], e["op"], e["new_revision"], e["old_revision"], e["raw_diff"],
                                  e["stats"]) for e in commit.full or []]
    return []


def _refs_of(repo: Repo, commit: Commit) -> dict[str, list[str]]:
    if commit.refs is not None:
        return commit.refs
    refs = repo.content.refs
    return {"bookmarks": [n for n, c in refs.get("bookmarks", {}).items() if c == commit.raw_id],
            "branches": [commit.branch] if commit.branch else [],
            "tags": [n for n, c in refs.get("tags", {}).items() if c == commit.raw_id]}


def _details(value: Any, allowed: list[str]) -> str:
    if value not in allowed:
        raise RpcError(f"ret_type must be one of {','.join(allowed)}")
    return value


@api(MODULE)
def get_repo_changeset(c: Call, repoid=REQUIRED, revision=REQUIRED, details=Opt("basic")) -> dict[str, Any]:
    repo = c.repo(repoid, "read")
    level = _details(extract(details), ["basic", "extended", "full"])
    raw_id = repo.content.resolve(revision)
    if raw_id is None:  # 4.22's Repository.get_commit answers an empty commit
        return shapes.changeset(None, [], {"bookmarks": [], "branches": [], "tags": []} if level == "full" else None)
    commit = _commit(c.world, raw_id)
    return shapes.changeset(commit, _diff(commit, level), _refs_of(repo, commit) if level == "full" else None)


@api(MODULE)
def get_repo_changesets(c: Call, repoid=REQUIRED, start_rev=REQUIRED, limit=REQUIRED,
                        details=Opt("basic")) -> list[dict[str, Any]]:
    repo = c.repo(repoid, "read")
    level = _details(extract(details), ["basic", "extended", "full"])
    try:
        count = int(limit)
    except (TypeError, ValueError):
        raise InternalError("ValueError") from None  # int(limit) is not guarded in 4.22
    commits = repo.content.commits
    if start_rev:
        start = repo.content.resolve(start_rev)
        if start is None:
            raise RpcError("Error occurred during commit fetching")
        commits = commits[commits.index(start):]
    result = []
    for raw_id in commits:
        if count != -1 and len(result) >= count:
            break
        commit = _commit(c.world, raw_id)
        refs = None
        if level == "full":
            refs = {"branches": [commit.branch], "bookmarks": [], "tags": _refs_of(repo, commit)["tags"]}
        result.append(shapes.changeset(commit, _diff(commit, level), refs))
    return result


@api(MODULE)
def get_repo_file(c: Call, repoid=REQUIRED, commit_id=REQUIRED, file_path=REQUIRED, max_file_bytes=Opt(None),
                  details=Opt("basic"), cache=Opt(True)) -> Any:
    repo = c.repo(repoid, "read")
    level = extract(details)
    if level not in ("minimal", "minimal+search", "basic", "full"):
        raise InternalError("TypeError")  # 4.22 formats this error with too few arguments
    if repo.content.empty:
        return None
    raw_id = repo.content.resolve(commit_id)
    if raw_id is None:
        raise RpcError(f"failed to get repo: `{repo.name}` file at path {file_path}")
    info = c.world.trees.get(raw_id, {}).get(str(file_path).strip("/"))
    if info is None or info.get("type") == "dir":
        raise RpcError(f"There is no file in repo: `{repo.name}` at path `{file_path}` for commit: `{commit_id}`")
    return shapes.file(info, level, extract(max_file_bytes))


@api(MODULE)
def get_repo_fts_tree(c: Call, repoid=REQUIRED, commit_id=REQUIRED, root_path=REQUIRED) -> list[dict[str, Any]]:
    repo = c.repo(repoid, "read")
    if repo.content.empty:
        return []
    raw_id = repo.content.resolve(commit_id)
    found = walk(c.world.trees.get(raw_id, {}), str(root_path)) if raw_id else None
    if found is None:
        raise RpcError(f"failed to get repo: `{repo.name}` nodes")
    return [shapes.fts_file(f) for f in found[1]]


@api(MODULE)
def get_repo_nodes(c: Call, repoid=REQUIRED, revision=REQUIRED, root_path=REQUIRED, ret_type=Opt("all"),
                   details=Opt("basic"), max_file_bytes=Opt(None)) -> list[dict[str, Any]]:
    repo = c.repo(repoid, "read")
    level = extract(details)
    if level not in ("basic", "full"):
        raise RpcError("ret_type must be one of basic,full")
    if repo.content.empty:
        return []
    raw_id = repo.content.resolve(revision)
    found = walk(c.world.trees.get(raw_id, {}), str(root_path)) if raw_id else None
    if found is None:
        raise RpcError(f"failed to get repo: `{repo.name}` nodes")
    full, limit = level == "full", extract(max_file_bytes)
    dirs = [shapes.node(d, full, limit) for d in found[0]]
    files = [shapes.node(f, full, limit) for f in found[1]]
    kinds = {"all": dirs + files, "files": files, "dirs": dirs}
    if extract(ret_type) not in kinds:
        raise RpcError(f"ret_type must be one of {','.join(sorted(kinds))}")
    return kinds[extract(ret_type)]


@api(MODULE)
def get_repo_refs(c: Call, repoid=REQUIRED) -> dict[str, Any]:
    repo = c.repo(repoid, "read")
    return shapes.refs(repo)
