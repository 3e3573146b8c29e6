"""4.22's search_api: the audit log query and full-text search (which finds nothing here:
the recorded server had built no index)."""
from __future__ import annotations

import datetime as dt
import fnmatch
import re
from typing import Any

from .. import shapes
from ..errors import validation_error
from ..rpc import REQUIRED, Call, Opt, api, extract
from ..model import AuditEntry

MODULE = "search_api"
_FIELDS = {"username": "username", "repository": "repository_name", "action": "action", "ip": "user_ip"}
_DATE_RANGE = re.compile(r"^date:\[(\d{8})\s+TO\s+(\d{8})\]$", re.IGNORECASE)


def _matcher(term: str) -> Any:
    """One `field:value` term of the audit query (glob wildcards, case-insensitive), or a
    `date:[YYYYMMDD TO YYYYMMDD]` range; a bare word searches the username."""
    dates = _DATE_RANGE.match(term)
    if dates:
        start = dt.datetime.strptime(dates.group(1), "%Y%m%d")
        end = dt.datetime.strptime(dates.group(2), "%Y%m%d") + dt.timedelta(days=1)
        return lambda e: start <= dt.datetime.fromisoformat(e.action_date) < end
    name, sep, value = term.partition(":")
    attribute = _FIELDS.get(name.lower()) if sep else "username"
    if not sep:
        value = term
    if attribute is None:
        return lambda e: False
    pattern = value.strip('"').lower()
    return lambda e: getattr(e, attribute) is not None and fnmatch.fnmatchcase(str(getattr(e, attribute)).lower(),
                                                                                 pattern)


def audit_query(entries: list[AuditEntry], query: Any) -> list[AuditEntry]:
    terms = [t.strip() for t in re.split(r"\s+AND\s+", str(query or "")) if t.strip()]
    matchers = [_matcher(t) for t in terms]
    return [e for e in entries if all(m(e) for m in matchers)]


@api(MODULE)
def get_audit_logs(c: Call, query=REQUIRED) -> list[dict[str, Any]]:
    c.require_admin()
    return [shapes.audit_entry(e) for e in reversed(audit_query(c.world.audit_log, query))]


@api(MODULE)
def search(c: Call, search_query=REQUIRED, search_type=REQUIRED, page_limit=Opt(10), page=Opt(1),
           search_sort=Opt("desc:date"), repo_name=Opt(None), repo_group_name=Opt(None)) -> dict[str, Any]:
    errors = {}
    if search_type not in ("content", "path", "commit", "repository"):
        errors["search_type"] = f'"{search_type}" is not one of content, path, commit, repository'
    sort = extract(search_sort)
    if not (sort in ("oldfirst", "newfirst") or (isinstance(sort, str) and sort.startswith(("asc:", "desc:")))):
        errors["search_sort"] = "Invalid search sort, must be `oldfirst`, `newfirst`, or start with asc: or desc:"
    limit, number = extract(page_limit), extract(page)
    if isinstance(limit, int) and limit > 500:
        errors["page_limit"] = f"{limit} is greater than maximum value 500"
    elif isinstance(limit, int) and limit < 1:
        errors["page_limit"] = f"{limit} is less than minimum value 1"
    if isinstance(number, int) and number < 1:
        errors["requested_page"] = f"{number} is less than minimum value 1"
    if errors:
        raise validation_error(errors)
    if not search_query:
        return {"execution_time": ""}  # 4.22 runs no search for an empty query
    return {"execution_time": "0 results (0.0000 seconds)", "page": number, "items_per_page": limit,
            "results": [], "item_count": 0}
