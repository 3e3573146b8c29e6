"""The objects of the stand-in's world, and its clock."""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from .vcs import RepoContent

DEFAULT_USER = "default"  # RhodeCode's anonymous user; its permissions are the defaults
DEFAULT_USER_ID = 1


def format_time(when: dt.datetime) -> str:
    """4.22's JSON datetime: ISO 8601, milliseconds, no fraction when it is zero."""
    text = when.isoformat()
    return text[:23] if when.microsecond else text


def from_epoch(seconds: float) -> dt.datetime:
    """The server's local time of an epoch value (the recorded server ran on UTC)."""
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).replace(tzinfo=None)


class Clock:
    """The world's clock. It starts where the recorded run started and runs in real time, so
    what the stand-in makes is newer than the recorded world, as in the recorded run (and a
    query for the recorded run's dates finds both)."""

    def __init__(self, start_epoch: float) -> None:
        self.start_epoch = start_epoch
        self.started = time.monotonic()

    def epoch(self) -> float:
        return self.start_epoch + (time.monotonic() - self.started)

    def now(self) -> str:
        return format_time(from_epoch(self.epoch()))


@dataclass
class Token:
    value: str
    role: str  # "api" (usable for API calls) or "feed" (the built-in feed token)


@dataclass
class User:
    user_id: int
    username: str
    email: str
    firstname: str | None = ""
    lastname: str | None = ""
    description: str = ""
    active: bool = True
    admin: bool = False
    extern_name: str = "rhodecode"
    extern_type: str = "rhodecode"
    language: str | None = None
    last_login: str | None = None
    last_activity: str | None = None
    ip_addresses: list[str] = field(default_factory=list)
    tokens: list[Token] = field(default_factory=list)
    global_perms: list[str] = field(default_factory=list)
    sort_key: str = ""  # what the server sorts users by (their username, see seed._sort_keys)
    password: str = ""


@dataclass
class UserGroup:
    users_group_id: int
    name: str
    owner_id: int
    description: str = ""
    active: bool = True
    sync: str | None = None
    members: list[int] = field(default_factory=list)  # in the order they were added
    user_perms: dict[int, str] = field(default_factory=dict)  # in grant order, like the DB rows
    group_perms: dict[int, str] = field(default_factory=dict)  # user groups with a permission on this one
    rank: int | None = None  # place in the recorded permission maps (None: created at run time)


@dataclass
class RepoGroup:
    group_id: int
    name: str  # full path
    owner_id: int
    description: str = ""
    enable_locking: bool = False
    personal: bool = False
    user_perms: dict[int, str] = field(default_factory=dict)
    group_perms: dict[int, str] = field(default_factory=dict)
    rank: int | None = None

    @property
    def short_name(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    @property
    def parent(self) -> str | None:
        return self.name.rpartition("/")[0] or None


@dataclass
class ExtraField:
    label: str
    description: str
    value: str = ""


@dataclass
class Lock:
    user_id: int
    since: str  # stored as Python 2 str(float): 12 significant digits
    reason: str


@dataclass
class ChangesetCache:
    """The repository's cached last commit, with the server's bookkeeping of it."""

    commit_id: str | None
    updated_on: float
    flipped: bool  # key order: see shapes.LAST_CHANGESET


@dataclass
class Repo:
    repo_id: int
    name: str
    repo_type: str
    owner_id: int
    created_on: str
    content: RepoContent
    cache: ChangesetCache
    description: str = ""
    private: bool = False
    clone_uri: str | None = ""
    push_uri: str | None = ""
    landing_rev: str = "rev:tip"
    enable_statistics: bool = False
    enable_locking: bool = False
    enable_downloads: bool = False
    fork_of_id: int | None = None
    user_perms: dict[int, str] = field(default_factory=dict)
    group_perms: dict[int, str] = field(default_factory=dict)
    followers: list[int] = field(default_factory=list)
    lock: Lock | None = None
    fields: dict[str, ExtraField] = field(default_factory=dict)
    settings: dict[str, Any] | None = None  # own VCS settings; None = inherits the global ones
    rank: int | None = None

    @property
    def short_name(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    @property
    def group_name(self) -> str | None:
        return self.name.rpartition("/")[0] or None


@dataclass
class Reviewer:
    user_id: int
    reasons: list[str]
    mandatory: bool = False


@dataclass
class PullRequest:
    pull_request_id: int
    title: str
    description: str
    author_id: int
    source_repo_id: int
    source_ref: tuple[str, str, str]  # type, name, commit id
    target_repo_id: int
    target_ref: tuple[str, str, str]
    commit_ids: list[str]
    created_on: str
    updated_on: str
    merge_commit_id: str  # the shadow merge, or the merge commit once merged
    description_renderer: str = "rst"
    status: str = "new"  # "new" or "closed"
    state: str = "created"
    reviewers: list[Reviewer] = field(default_factory=list)
    votes: dict[int, str] = field(default_factory=dict)  # user id -> latest review status


@dataclass
class Comment:
    comment_id: int
    text: str
    comment_type: str
    author_id: int
    repo_id: int
    created_on: str
    commit_id: str | None = None
    pull_request_id: int | None = None
    f_path: str | None = None
    lineno: str | None = None
    version: int = 0
    resolved_by: int | None = None
    status: tuple[str, int | None] | None = None  # (status, status id)


@dataclass
class Gist:
    gist_id: int
    access_id: str
    owner_id: int
    gist_type: str
    description: str
    acl_level: str
    created_on: str
    modified_at: str
    expires: float
    files: dict[str, str] = field(default_factory=dict)


@dataclass
class AuditEntry:
    entry_id: int
    action: str
    username: str
    user_id: int | None
    repository_name: str | None
    repository_id: int | None
    user_ip: str
    action_date: str
