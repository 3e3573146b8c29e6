"""4.22's pull_request_api: reviews, comments, updates, closing and merging."""
from __future__ import annotations

from typing import Any

from .. import perms, shapes
from ..errors import RpcError, validation_error
from ..rpc import APIUSER, REQUIRED, Call, Opt, api, as_bool, extract, given
from ..vcs import Commit, fake_commit_id
from ..model import PullRequest, Repo, Reviewer, User
from . import repo_model
from .comments import STATUSES, create_comment

MODULE = "pull_request_api"
AUTO_STATUS = 'Auto status change to |new_status|\n\n.. |new_status| replace:: *"{}"*'


def _pull_request(c: Call, pullrequestid: Any, repoid: Any) -> PullRequest:
    pr = c.world.pull_request_or_error(pullrequestid)
    if extract(repoid):
        c.world.repo_or_error(repoid)  # looked up, not matched against the pull request
    return pr


def _can_read(c: Call, pr: PullRequest) -> bool:
    return perms.has_repo(c.world, c.user, c.world.repos[pr.target_repo_id], "read")


def _can_merge(c: Call, pr: PullRequest, user: User) -> bool:
    return perms.has_repo(c.world, user, c.world.repos[pr.target_repo_id], "write")


def _can_update(c: Call, pr: PullRequest, user: User) -> bool:
    return _can_merge(c, pr, user) or pr.author_id == user.user_id


def _reviewer_objects(c: Call, given_reviewers: Any) -> list[tuple[User, dict[str, Any]]]:
    """ReviewerListSchema: a list of objects with a `username`; then every user must exist."""
    if not given_reviewers:
        return []
    if not isinstance(given_reviewers, list):
        raise validation_error({"": f'"{given_reviewers}" is not iterable'})
    errors = {}
    for i, item in enumerate(given_reviewers):
        if not isinstance(item, dict):
            errors[str(i)] = f'"{item}" is not a mapping type: Does not implement dict-like functionality.'
        elif "username" not in item:
            errors[f"{i}.username"] = "Required"
    if errors:
        raise validation_error(errors)
    return [(c.world.user_or_error(item["username"]), item) for item in given_reviewers]


def _set_vote(c: Call, pr: PullRequest, user: User, status: str, text: str) -> None:
    """A status change: a comment carrying the new status, and the user's vote."""
    comment = create_comment(c, text=text, comment_type="note", author_id=user.user_id, repo_id=pr.target_repo_id,
                             pull_request_id=pr.pull_request_id)
    comment.status = (status, c.world.next_id("status"))
    pr.votes[user.user_id] = status


def _resolve_ref(c: Call, ref: Any, repo: Repo) -> tuple[str, str, str]:
    parts = ref.split(":") if isinstance(ref, str) else []
    if len(parts) not in (2, 3):
        raise RpcError(f"Ref `{ref}` given in a wrong format. Please check the API documentation for more details")
    allowed = ["bookmark", "book", "tag", "branch"]
    if parts[0] not in allowed:
        raise RpcError(f"Ref `{ref}` type is not allowed. Only:{allowed} are possible.")
    kind, name = parts[0], parts[1]
    target = parts[2] if len(parts) == 3 else {"branch": "branches", "tag": "tags"}.get(kind, "bookmarks")
    commit = parts[2] if len(parts) == 3 else repo.content.refs.get(target, {}).get(name)
    if commit is None:
        raise RpcError(f"The specified value:{kind}:`{name}` does not exist, or is not allowed.")
    return kind, name, commit


@api(MODULE)
def close_pull_request(c: Call, pullrequestid=REQUIRED, repoid=Opt(None), userid=APIUSER,
                       message=Opt("")) -> dict[str, Any]:
    world = c.world
    pr = world.pull_request_or_error(pullrequestid)
    repo = world.repo_or_error(repoid) if extract(repoid) else world.repos[pr.target_repo_id]
    closer = c.user
    if given(userid):
        if not (c.admin or perms.has_repo(world, c.user, repo, "admin")):
            raise RpcError("userid is not the same as your user")
        closer = world.user_or_error(userid)
    if pr.status == "closed":
        raise RpcError(f"pull request `{pullrequestid}` is already closed")
    if not _can_update(c, pr, closer):
        raise RpcError(f"pull request `{pullrequestid}` close failed, no permission to close.")
    status = "approved" if shapes.review_status(pr) == "approved" else "rejected"
    label = shapes.status_label(status)
    text = extract(message) or f"Closing with status change > {label}."
    _set_vote(c, pr, closer, status, text)
    pr.status, pr.updated_on = "closed", world.now()
    world.audit("repo.pull_request.close", closer, c.ip, world.repos[pr.target_repo_id])
    return {"pull_request_id": pr.pull_request_id, "close_status": label, "closed": True}


@api(MODULE)
def comment_pull_request(c: Call, pullrequestid=REQUIRED, repoid=Opt(None), message=Opt(None),
                         commit_id=Opt(None), status=Opt(None), comment_type=Opt("note", "u'note'"),
                         resolves_comment_id=Opt(None), extra_recipients=Opt([]), userid=APIUSER,
                         send_email=Opt(True)) -> dict[str, Any]:
    world = c.world
    pr = world.pull_request_or_error(pullrequestid)
    repo = world.repo_or_error(repoid) if extract(repoid) else world.repos[pr.target_repo_id]
    author, on_behalf = c.user, False
    if given(userid):
        if not (c.admin or perms.has_repo(world, c.user, repo, "admin")):
            raise RpcError("userid is not the same as your user")
        author, on_behalf = world.user_or_error(userid), True
    if pr.status == "closed":
        raise RpcError(f"pull request `{pullrequestid}` comment failed, pull request is closed")
    if not perms.has_repo(world, author, world.repos[pr.target_repo_id], "read"):
        raise RpcError(f"repository `{extract(repoid)}` does not exist")
    text, status, commit = extract(message), extract(status), extract(commit_id)
    if not text and not status:
        raise RpcError("Both message and status parameters are missing. At least one is required.")
    if status is not None and status not in STATUSES:
        raise RpcError(f"Unknown comment status: `{status}`")
    if commit and commit not in pr.commit_ids:
        raise RpcError(f"Invalid commit_id `{commit}` for this pull request.")
    # reviewers and the author may vote, on the pull request's latest commit only
    may_vote = any(r.user_id == author.user_id for r in pr.reviewers) or author.user_id == pr.author_id
    if commit and pr.commit_ids.index(commit) != 0:
        may_vote = False
    resolves = extract(resolves_comment_id)
    if resolves:
        todo = world.comments.get(resolves) if isinstance(resolves, int) else None
        if todo is None:
            raise RpcError(f"Invalid resolves_comment_id `{resolves}` for this pull request.")
        if todo.comment_type != "todo":
            raise RpcError(f"Comment `{resolves}` is wrong type for setting status to resolved.")
        # 4.22 compares the todo's pull request object with this pull request's id: the
        # comment is made, the todo stays unresolved
    vote = bool(status and may_vote)
    if vote and not text:
        text = f"Status change > {shapes.status_label(status)}"
    comment = create_comment(c, text=text, comment_type=extract(comment_type), author_id=author.user_id,
                             repo_id=pr.target_repo_id, pull_request_id=pr.pull_request_id)
    if vote:
        comment.status = (status, world.next_id("status"))
        pr.votes[author.user_id] = status
    world.audit("repo.pull_request.comment.create", author, None if on_behalf else c.ip,
                world.repos[pr.target_repo_id])
    return {"status": {"given": status, "was_changed": status and may_vote},
            "pull_request_id": pr.pull_request_id, "comment_id": comment.comment_id}


@api(MODULE)
def create_pull_request(c: Call, source_repo=REQUIRED, target_repo=REQUIRED, source_ref=REQUIRED,
                        target_ref=REQUIRED, owner=APIUSER, title=Opt(""), description=Opt(""),
                        description_renderer=Opt(""), reviewers=Opt(None), observers=Opt(None)) -> dict[str, Any]:
    world = c.world
    source = world.repo_or_error(source_repo)
    target = world.repo_or_error(target_repo)
    if not c.admin:
        c.check_repo(source_repo, source, "read")
    author = c.owner(owner)
    source_full = _resolve_ref(c, source_ref, source)
    target_full = _resolve_ref(c, target_ref, target)
    chosen = _reviewer_objects(c, extract(reviewers))
    _reviewer_objects(c, extract(observers))
    source_history = source.content.ancestors(source_full[2], world.commits)
    target_history = target.content.ancestors(target_full[2], world.commits)
    common = [x for x in target.content.commits if x in source_history and x in target_history]
    if not common:
        raise RpcError("no common ancestor found")
    commits = [x for x in source.content.commits if x in source_history and x not in target_history]
    if not commits:
        raise RpcError("no commits found for merge between specified references")
    name = extract(title) or f"{source.name}#{source_full[1]} to {target.name}"
    now = world.now()
    pr = PullRequest(world.next_id("pull_request"), name, extract(description), author.user_id, source.repo_id,
                     source_full, target.repo_id, (target_full[0], target_full[1], common[-1]),
                     list(reversed(commits)), now, now,
                     fake_commit_id("shadow-merge", str(target.repo_id), source_full[2], common[-1]),
                     description_renderer=extract(description_renderer) or "rst")
    # CE's default reviewer is the target repository's owner
    pr.reviewers.append(Reviewer(target.owner_id, ["Default reviewer", "Repository owner"]))
    for user, item in chosen:
        if all(r.user_id != user.user_id for r in pr.reviewers):
            pr.reviewers.append(Reviewer(user.user_id, list(item.get("reasons") or ["no reason specified"]),
                                         bool(item.get("mandatory", False))))
    world.pull_requests[pr.pull_request_id] = pr
    _set_vote(c, pr, author, "under_review", AUTO_STATUS.format("Under Review"))
    world.audit("repo.pull_request.create", author, c.ip, target)
    return {"msg": f"Created new pull request `{name}`", "pull_request_id": pr.pull_request_id}


@api(MODULE)
def get_pull_request(c: Call, pullrequestid=REQUIRED, repoid=Opt(None), merge_state=Opt(False)) -> dict[str, Any]:
    pr = _pull_request(c, pullrequestid, repoid)
    if not _can_read(c, pr):
        raise RpcError(f"repository `{extract(repoid)}` does not exist")
    return shapes.pull_request(c.world, pr, as_bool(extract(merge_state)))


@api(MODULE)
def get_pull_request_comments(c: Call, pullrequestid=REQUIRED, repoid=Opt(None)) -> list[dict[str, Any]]:
    pr = _pull_request(c, pullrequestid, repoid)
    if not _can_read(c, pr):
        raise RpcError(f"repository `{extract(repoid)}` does not exist")
    return [shapes.pr_comment(c.world, x) for x in sorted(c.world.comments.values(), key=lambda x: x.comment_id)
            if x.pull_request_id == pr.pull_request_id]


@api(MODULE)
def get_pull_requests(c: Call, repoid=REQUIRED, status=Opt("new"), merge_state=Opt(False)) -> list[dict[str, Any]]:
    repo = c.repo(repoid, "read")
    wanted = extract(status)
    found = [p for p in c.world.pull_requests.values() if p.target_repo_id == repo.repo_id and p.status == wanted]
    merge = as_bool(extract(merge_state))
    return [shapes.pull_request(c.world, p, merge) for p in sorted(found, key=lambda p: -p.pull_request_id)]


def _merge_problems(c: Call, pr: PullRequest, user: User) -> list[str]:
    """MergeCheck.validate: every reason, except that a missing permission is reported alone."""
    if not _can_merge(c, pr, user):
        return [f"User `{user.username}` not allowed to perform merge."]
    problems = []
    if shapes.review_status(pr) != "approved":
        problems.append("Pull request reviewer approval is pending.")
    todos = [x for x in c.world.comments.values() if x.pull_request_id == pr.pull_request_id
             and x.comment_type == "todo" and x.resolved_by is None]
    if todos:
        problems.append(f"Cannot merge, {len(todos)} TODO{'' if len(todos) == 1 else 's'} still not resolved.")
    if pr.status == "closed":
        problems.append("This pull request is closed.")
    return problems


@api(MODULE)
def merge_pull_request(c: Call, pullrequestid=REQUIRED, repoid=Opt(None), userid=APIUSER) -> dict[str, Any]:
    world = c.world
    pr = world.pull_request_or_error(pullrequestid)
    repo = world.repo_or_error(repoid) if extract(repoid) else world.repos[pr.target_repo_id]
    merger = c.user
    if given(userid):
        if not (c.admin or perms.has_repo(world, c.user, repo, "admin")):
            raise RpcError("userid is not the same as your user")
        merger = world.user_or_error(userid)
    if pr.state != "created":
        raise RpcError(f"Operation forbidden because pull request is in state {pr.state}, only state created "
                       "is allowed.")
    problems = _merge_problems(c, pr, merger)
    if problems:
        raise RpcError("merge not possible for following reasons: " + ",".join(problems))
    target = world.repos[pr.target_repo_id]
    source = world.repos[pr.source_repo_id]
    target_head = target.content.refs["branches"].get(pr.target_ref[1], pr.target_ref[2])
    merged = Commit(fake_commit_id("merge", str(pr.pull_request_id), target_head, pr.source_ref[2]), "",
                    f"{merger.firstname} {merger.lastname} <{merger.email}>", world.now()[:19],
                    f"Merge pull request !{pr.pull_request_id} from {source.name} {pr.source_ref[1]}\n\n"
                    f" {pr.title}\n", pr.target_ref[1], [target_head, pr.source_ref[2]], len(target.content.commits))
    merged.short_id = merged.raw_id[:12]
    world.commits[merged.raw_id] = merged
    incoming = source.content.ancestors(pr.source_ref[2], world.commits)
    for raw_id in source.content.commits:  # the source's commits come along
        if raw_id not in target.content.commits and raw_id in incoming:
            target.content.commits.append(raw_id)
    target.content.add_commit(merged)
    world.trees.setdefault(merged.raw_id, dict(world.trees.get(pr.source_ref[2], {})))
    repo_model.refresh_cache(c.world, target)
    pr.merge_commit_id = merged.raw_id
    pr.status, pr.updated_on = "closed", world.now()
    world.audit("repo.pull_request.merge", merger, c.ip, target)
    return {"executed": True, "merge_commit_id": merged.raw_id, "merge_status_message": shapes.MERGEABLE,
            "possible": True, "merge_ref": {"type": "branch", "name": "pr-merge", "commit_id": merged.raw_id},
            "failure_reason": 0}


@api(MODULE)
def update_pull_request(c: Call, pullrequestid=REQUIRED, repoid=Opt(None), title=Opt(""), description=Opt(""),
                        description_renderer=Opt(""), reviewers=Opt(None), observers=Opt(None),
                        update_commits=Opt(None)) -> dict[str, Any]:
    world = c.world
    pr = _pull_request(c, pullrequestid, repoid)
    if not _can_update(c, pr, c.user):
        raise RpcError(f"pull request `{pullrequestid}` update failed, no permission to update.")
    if pr.status == "closed":
        raise RpcError(f"pull request `{pullrequestid}` update failed, pull request is closed")
    chosen = _reviewer_objects(c, extract(reviewers))
    _reviewer_objects(c, extract(observers))  # CE validates observers and keeps none
    if extract(title) or extract(description):
        pr.title = extract(title) or pr.title
        pr.description = extract(description) or pr.description
        pr.description_renderer = extract(description_renderer) or pr.description_renderer
        pr.updated_on = world.now()
    changes: dict[str, list[int]] = {"added": [], "removed": []}
    if chosen:
        wanted = {u.user_id: item for u, item in chosen}
        current = {r.user_id for r in pr.reviewers}
        changes["added"] = [uid for uid in wanted if uid not in current]
        changes["removed"] = [uid for uid in current if uid not in wanted]
        pr.reviewers = [r for r in pr.reviewers if r.user_id in wanted]
        pr.reviewers += [Reviewer(uid, list(wanted[uid].get("reasons") or ["no reason specified"]),
                                  bool(wanted[uid].get("mandatory", False))) for uid in changes["added"]]
    world.audit("repo.pull_request.edit", c.user, c.ip, world.repos[pr.target_repo_id])
    return {"msg": f"Updated pull request `{pr.pull_request_id}`",
            "updated_commits": {"removed": [], "added": [], "common": []},
            "updated_observers": {"removed": [], "added": []},
            "updated_reviewers": {"removed": changes["removed"], "added": changes["added"]},
            "pull_request": shapes.pull_request(world, pr, merge_state=True)}
