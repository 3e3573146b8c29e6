"""Repository content without a VCS: recorded commits, refs and file trees.

The stand-in has no Mercurial or Git. It serves the content the recordings show for the
fixture repositories: commits (shared by every repository that holds them, as commit ids are
content hashes), each repository's history and refs, and the file trees of the commits whose
files were recorded. Repositories created at run time start empty and get content by being
forked, or cloned/pulled from the URL of a repository of this stand-in.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

EMPTY_COMMIT_ID = "0" * 40


@dataclass
class Commit:
    raw_id: str
    short_id: str
    author: str | None
    date: str | None
    message: str | None
    branch: str | None
    parents: list[str]
    revision: int | None
    extended: list[dict[str, Any]] | None = None  # the recorded `details=extended` diff
    full: list[dict[str, Any]] | None = None  # the recorded `details=full` diff
    refs: dict[str, list[str]] | None = None  # the recorded `details=full` refs
    known: bool = True  # False: only its id is known (a parent or ref of a recorded commit)


def commit_from_seed(data: dict[str, Any]) -> Commit:
    basic = data["basic"]
    return Commit(basic["raw_id"], basic["short_id"], basic["author"], basic["date"], basic["message"],
                  basic["branch"], [p["raw_id"] for p in basic["parents"]], basic["revision"],
                  data["extended"], data["full"], data["refs"])


def stub_commit(raw_id: str) -> Commit:
    return Commit(raw_id, raw_id[:12], None, None, None, None, [], None, known=False)


def fake_commit_id(*parts: str) -> str:
    """A commit id for a commit the stand-in makes (a merge): stable for the same inputs."""
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()


@dataclass
class RepoContent:
    """One repository's history (oldest first) and refs."""

    commits: list[str] = field(default_factory=list)
    refs: dict[str, dict[str, str]] = field(default_factory=lambda: {
        "branches_closed": {}, "bookmarks": {}, "branches": {}, "tags": {}})

    @property
    def empty(self) -> bool:
        return not self.commits

    @property
    def head(self) -> str | None:
        return self.commits[-1] if self.commits else None

    def copy(self) -> RepoContent:
        return RepoContent(list(self.commits), {k: dict(v) for k, v in self.refs.items()})

    def resolve(self, rev: Any) -> str | None:
        """The commit a revision names: a commit id (or a prefix), `tip`, a revision number,
        a branch, tag or bookmark name. None when it names nothing here."""
        if rev is None or rev == "":
            return self.head
        if isinstance(rev, int) or (isinstance(rev, str) and rev.isdigit() and len(rev) < 12):
            index = int(rev)
            return self.commits[index] if 0 <= index < len(self.commits) else None
        if not isinstance(rev, str):
            return None
        if rev in self.commits:
            return rev
        if rev == "tip":
            return self.head
        for kind in ("branches", "tags", "bookmarks"):
            if rev in self.refs.get(kind, {}):
                return self.refs[kind][rev]
        if len(rev) >= 4 and all(c in "0123456789abcdef" for c in rev):
            matches = [c for c in self.commits if c.startswith(rev)]
            if len(matches) == 1:
                return matches[0]
        return None

    def ancestors(self, raw_id: str, commits: dict[str, Commit]) -> set[str]:
        """`raw_id` and every commit behind it."""
        found: set[str] = set()
        todo = [raw_id]
        while todo:
            current = todo.pop()
            if current in found or current == EMPTY_COMMIT_ID:
                continue
            found.add(current)
            commit = commits.get(current)
            todo.extend(commit.parents if commit else [])
        return found

    def add_commit(self, commit: Commit) -> None:
        self.commits.append(commit.raw_id)
        if commit.branch:
            self.refs["branches"][commit.branch] = commit.raw_id
        if "tip" in self.refs.get("tags", {}):
            self.refs["tags"]["tip"] = commit.raw_id

    def merge_from(self, other: RepoContent) -> bool:
        """Take the commits and refs of `other` (a pull). True when something new came."""
        new = [c for c in other.commits if c not in self.commits]
        self.commits.extend(new)
        for kind, refs in other.refs.items():
            self.refs.setdefault(kind, {}).update(refs)
        return bool(new)


def walk(tree: dict[str, dict[str, Any]], root: str) -> tuple[list[dict], list[dict]] | None:
    """(dirs, files) under `root` the way 4.22's ScmModel.get_nodes walks a commit: each
    directory's files, then its sub-directories, depth first; None if `root` is no directory."""
    root = root.strip("/")
    dirs_known = {p for p, n in tree.items() if n.get("type") == "dir"}
    for path in tree:
        parts = path.split("/")[:-1]
        dirs_known.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    if root and root not in dirs_known:
        return None
    out_dirs: list[dict] = []
    out_files: list[dict] = []

    def children(directory: str) -> tuple[list[str], list[str]]:
        prefix = f"{directory}/" if directory else ""
        subdirs = sorted(d for d in dirs_known
                         if d.startswith(prefix) and "/" not in d[len(prefix):] and d != directory)
        files = sorted(p for p, n in tree.items() if n.get("type") != "dir" and p.startswith(prefix)
                       and "/" not in p[len(prefix):])
        return subdirs, files

    def visit(directory: str) -> None:
        subdirs, files = children(directory)
        out_files.extend(tree[f] for f in files)
        out_dirs.extend(tree.get(d, {"name": d, "type": "dir"}) for d in subdirs)
        for d in subdirs:
            visit(d)

    visit(root)
    return out_dirs, out_files
