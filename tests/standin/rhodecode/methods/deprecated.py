"""4.22's deprecated_api: old names kept as aliases; their answers carry DEPRECATION_WARNING."""
from __future__ import annotations

from typing import Any

from ..rpc import APIUSER, REQUIRED, Call, Opt, api
from . import comments, server_api, users

MODULE = "deprecated_api"


@api(MODULE, deprecated_for="comment_commit")
def changeset_comment(c: Call, repoid=REQUIRED, revision=REQUIRED, message=REQUIRED, userid=APIUSER,
                      status=Opt(None)) -> dict[str, Any]:
    return comments.comment_commit(c, repoid=repoid, commit_id=revision, message=message, status=status,
                                   comment_type=Opt("note", "u'note'"), resolves_comment_id=Opt(None),
                                   extra_recipients=Opt([]), userid=userid, send_email=Opt(True))


@api(MODULE, deprecated_for="get_user_locks")
def get_locks(c: Call, userid=APIUSER) -> list[dict[str, Any]]:
    return users.get_user_locks(c, userid=userid)


@api(MODULE, deprecated_for="get_ip")
def show_ip(c: Call, userid=APIUSER) -> dict[str, Any]:
    return server_api.get_ip(c, userid=userid)
