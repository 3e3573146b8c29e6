"""4.22's server_api: server information and internal helpers."""
from __future__ import annotations

import secrets
from typing import Any

from ..errors import RpcError
from ..rpc import APIUSER, REQUIRED, Call, Opt, api, extract, find, given

MODULE = "server_api"


@api(MODULE)
def cleanup_sessions(c: Call, older_then=Opt(60)) -> dict[str, Any]:
    c.require_admin()
    return {"msg": f"Cleaned up old sessions (older than {extract(older_then)} days)", "cleaned_up": 0}


@api(MODULE)
def get_ip(c: Call, userid=APIUSER) -> dict[str, Any]:
    c.require_admin()
    user = c.user if not given(userid) else c.world.user_or_error(userid)
    return {"server_ip_addr": c.ip, "user_ips": [{"ip_addr": ip, "ip_range": [ip.split("/")[0]] * 2}
                                                 for ip in user.ip_addresses]}


@api(MODULE)
def get_method(c: Call, pattern=Opt("*")) -> list[Any]:
    c.require_admin()
    found = find([extract(pattern)] if isinstance(extract(pattern), str) else [])
    described: list[Any] = list(found)
    if len(found) == 1:  # a single match also describes its arguments
        described.append(next(iter(found.values())).describe())
    return described


@api(MODULE)
def get_repo_store(c: Call) -> dict[str, Any]:
    c.require_admin()
    return {"path": c.world.repo_store}


@api(MODULE)
def get_server_info(c: Call) -> dict[str, Any]:
    c.require_admin()
    return c.world.server_info  # what the recorded server reported (load, memory, versions, ...)


@api(MODULE)
def rescan_repos(c: Call, remove_obsolete=Opt(False)) -> dict[str, Any]:
    c.require_admin()
    return {"removed": [], "added": []}  # nothing is ever on disk that the world does not know


@api(MODULE)
def store_exception(c: Call, exc_data_json=REQUIRED, prefix=Opt("rhodecode")) -> dict[str, Any]:
    c.require_admin()
    if not isinstance(exc_data_json, str):
        raise RpcError("Failed to store exception")
    exc_id = str(secrets.randbelow(10 ** 15))
    return {"exc_stored": True, "exc_url": f"{c.world.base_url}/_admin/settings/exceptions/{exc_id}",
            "exc_id": exc_id}



