"""4.22's testing_api: the internal methods a real server registers for its own tests."""
from __future__ import annotations

from typing import Any

from ..errors import Forbidden, InternalError, RpcError
from ..rpc import APIUSER, REQUIRED, Call, Opt, api, extract, given

MODULE = "testing_api"


@api(MODULE)
def test(c: Call, args=REQUIRED) -> Any:
    return args


@api(MODULE, deprecated_for="test_ok")
def test_deprecated_method(c: Call) -> str:
    return "ok"


@api(MODULE)
def test_error(c: Call) -> None:
    raise RpcError("error happened")


@api(MODULE)
def test_exception(c: Call) -> None:
    raise InternalError("Exception")


@api(MODULE)
def test_forbidden_method(c: Call) -> None:
    raise Forbidden()


@api(MODULE)
def test_ok(c: Call) -> str:
    return "ok"


@api(MODULE)
def test_params(c: Call, params=REQUIRED) -> str:
    return f"hello apiuser:{c.user.username} params:{params}"


@api(MODULE)
def test_params_opt(c: Call, params=REQUIRED, opt2=Opt(True), opt3=APIUSER) -> str:
    opt3_value = c.user.username if not given(opt3) else opt3
    return f"hello apiuser:{c.user.username} params:{params}, opt:[{extract(opt2)},{opt3_value}]"
