"""4.22's gist_api."""
from __future__ import annotations

import re
import secrets
import string
import unicodedata
from typing import Any

from .. import shapes
from ..errors import RpcError, validation_error
from ..rpc import APIUSER, REQUIRED, Call, Opt, api, as_bool, extract, given
from ..model import Gist

MODULE = "gist_api"


def _slug(value: str) -> str:
    """The gist id preparers: strip, fold to ASCII, slugify."""
    ascii_text = unicodedata.normalize("NFKD", value.strip()).encode("ascii", "ignore").decode()
    return re.sub(r"-{2,}", "-", re.sub(r"[^\w.-]+", "-", ascii_text)).strip("-")


def _python2_type(value: Any) -> str:
    names = {str: "str", int: "int", float: "float", bool: "bool", list: "list", type(None): "NoneType"}
    return f"<type '{names.get(type(value), type(value).__name__)}'>"


def _gist_or_error(c: Call, gistid: Any) -> Gist:
    gist = c.world.gist_by_access_id(gistid)
    if gist is None or (not c.admin and gist.owner_id != c.user.user_id):
        raise RpcError(f"gist `{gistid}` does not exist")
    return gist


@api(MODULE)
def create_gist(c: Call, files=REQUIRED, gistid=Opt(None), owner=APIUSER, gist_type=Opt("public", "u'public'"),
                lifetime=Opt(-1), acl_level=Opt("acl_public", "u'acl_public'"), description=Opt("")) -> dict[str, Any]:
    world = c.world
    owner_user = world.user_or_error(owner) if given(owner) else c.user
    if not isinstance(files, dict):
        raise validation_error({"nodes": f"Nodes needs to be a dict, got {_python2_type(files)}"})
    errors = {}
    for i, name in enumerate(files):
        if "/" in name:
            errors[f"{i}.filename"] = f"Filename {name} cannot be inside a directory"
    kind, acl = extract(gist_type), extract(acl_level)
    if kind not in ("private", "public"):
        errors["gist_type"] = f'"{kind}" is not one of private, public'
    if acl not in ("acl_public", "acl_private"):
        errors["gist_acl_level"] = f'"{acl}" is not one of acl_public, acl_private'
    custom = _slug(extract(gistid)) if isinstance(extract(gistid), str) else None
    if custom and world.gist_by_access_id(custom) is not None:
        errors["gistid"] = f"Gist with name {custom} already exists"
    if errors:
        raise validation_error(errors)
    gist_id = world.next_id("gist")
    if kind == "public":
        access_id = str(gist_id)  # public gists always use the database id
    else:
        access_id = custom or "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(20))
    life = extract(lifetime)  # 4.22 binds the given lifetime as the only allowed value
    expires = -1.0 if life == -1 else world.epoch() + float(life) * 60
    now = world.now()
    gist = Gist(gist_id, access_id, owner_user.user_id, kind, extract(description), acl, now, now, expires,
                {name: node.get("content", "") if isinstance(node, dict) else "" for name, node in files.items()})
    world.gists[gist_id] = gist
    return {"msg": "created new gist", "gist": shapes.gist(world, gist, content=False)}


@api(MODULE)
def delete_gist(c: Call, gistid=REQUIRED) -> dict[str, Any]:
    gist = _gist_or_error(c, gistid)
    del c.world.gists[gist.gist_id]
    return {"msg": f"deleted gist ID:{gist.access_id}", "gist": None}


@api(MODULE)
def get_gist(c: Call, gistid=REQUIRED, content=Opt(False)) -> dict[str, Any]:
    gist = _gist_or_error(c, gistid)
    return shapes.gist(c.world, gist, content=as_bool(extract(content)))


@api(MODULE)
def get_gists(c: Call, userid=APIUSER) -> list[dict[str, Any]]:
    user = c.same_user(userid)
    now = c.world.epoch()
    gists = [g for g in c.world.gists.values() if g.owner_id == user.user_id and (g.expires == -1 or g.expires > now)]
    return [shapes.gist(c.world, g, content=False) for g in sorted(gists, key=lambda g: -g.gist_id)]
