"""4.22's repo_api, part 3: comments on commits, and reading or editing any comment."""
from __future__ import annotations

from typing import Any

from .. import perms, shapes
from ..errors import RpcError
from ..rpc import APIUSER, REQUIRED, Call, Opt, api, extract, given
from ..model import Comment

MODULE = "repo_api"
STATUSES = ["not_reviewed", "approved", "rejected", "under_review"]
COMMENT_TYPES = ("note", "todo")


def create_comment(c: Call, **fields: Any) -> Comment:
    comment = Comment(c.world.next_id("comment"), created_on=c.world.now(), **fields)
    c.world.comments[comment.comment_id] = comment
    return comment


@api(MODULE)
def comment_commit(c: Call, repoid=REQUIRED, commit_id=REQUIRED, message=REQUIRED, status=Opt(None),
                   comment_type=Opt("note", "u'note'"), resolves_comment_id=Opt(None), extra_recipients=Opt([]),
                   userid=APIUSER, send_email=Opt(True)) -> dict[str, Any]:
    world = c.world
    repo = c.repo(repoid, "read")
    raw_id = repo.content.resolve(commit_id)
    if raw_id is None:
        raise RpcError(f"Commit {commit_id} does not exist for `{repo.name}`")
    # no check that a non-admin passes its own userid: 4.22 stores the comment under that user
    author = c.user if not given(userid) else world.user_or_error(userid)
    status = extract(status)
    if status and status not in STATUSES:
        raise RpcError(f"Bad status, must be on of {STATUSES} got {status}")
    resolves = extract(resolves_comment_id)
    if resolves:
        todo = world.comments.get(resolves) if isinstance(resolves, int) else None
        if todo is None:
            raise RpcError(f"Invalid resolves_comment_id `{resolves}` for this commit.")
        if todo.comment_type != "todo":
            raise RpcError(f"Comment `{resolves}` is wrong type for setting status to resolved.")
    kind = extract(comment_type)
    if kind not in COMMENT_TYPES:
        raise RpcError(f"failed to set comment on repository `{repo.name}`")
    comment = create_comment(c, text=message, comment_type=kind, author_id=author.user_id, repo_id=repo.repo_id,
                             commit_id=raw_id)
    if resolves:
        world.comments[resolves].resolved_by = comment.comment_id
    if status:
        comment.status = (status, world.next_id("status"))
    world.audit("repo.commit.comment.create", c.user, c.ip, repo)
    return {"msg": f"Commented on commit `{raw_id}` for repository `{repo.name}`", "status_change": status,
            "success": True}


@api(MODULE)
def edit_comment(c: Call, comment_id=REQUIRED, message=REQUIRED, version=REQUIRED, userid=APIUSER) -> dict[str, Any]:
    world = c.world
    comment = world.comment_or_error(comment_id)
    repo = world.repos[comment.repo_id]
    repo_admin = perms.has_repo(world, c.user, repo, "admin")
    editor = c.user
    if given(userid):
        if not (c.admin or repo_admin):
            raise RpcError("userid is not the same as your user")
        editor = world.user_or_error(userid)
    if not (c.admin or repo_admin or comment.author_id == editor.user_id):
        raise RpcError("you don't have access to edit this comment")
    if version != comment.version:
        raise RpcError(f"comment ({comment_id}) version ({version}) mismatch")
    comment.text = message
    comment.version += 1
    action = "repo.pull_request.comment.edit" if comment.pull_request_id else "repo.commit.comment.edit"
    world.audit(action, c.user, c.ip, repo)
    return {"comment": shapes.comment(world, comment), "version": comment.version}


@api(MODULE)
def get_comment(c: Call, comment_id=REQUIRED) -> dict[str, Any]:
    comment = c.world.comment_or_error(comment_id)
    repo = c.world.repos[comment.repo_id]
    if not perms.has_repo(c.world, c.user, repo, "read"):
        raise RpcError(f"comment `{comment_id}` does not exist")
    return shapes.comment(c.world, comment)


@api(MODULE)
def get_repo_comments(c: Call, repoid=REQUIRED, commit_id=Opt(None), comment_type=Opt(None),
                      userid=Opt(None)) -> list[dict[str, Any]]:
    world = c.world
    repo = c.repo(repoid, "read")
    commit = extract(commit_id)
    user = world.user_or_error(userid) if extract(userid) else None
    kind = extract(comment_type)
    if kind and kind not in COMMENT_TYPES:
        raise RpcError(f"comment_type must be one of `[u'note', u'todo']` got {kind}")
    found = [x for x in sorted(world.comments.values(), key=lambda x: x.comment_id)
             if x.repo_id == repo.repo_id and x.pull_request_id is None
             and (not commit or x.commit_id == commit) and (user is None or x.author_id == user.user_id)
             and (not kind or x.comment_type == kind)]
    return [shapes.comment(world, x) for x in found]
