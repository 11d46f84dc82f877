"""Tokens under /api/v1/auth: log in for a bearer token, log out (revoke it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from mcu.control.access import (
    THROTTLED,
    Control,
    ControlError,
    Principal,
    admit_login,
    audit,
    control_of,
    parse_body,
    principal_of,
    source_of,
)
from mcu.control.schemas import ERRORS, TokenRequest, TokenResponse, body_doc

Auth = Annotated[Principal, Depends(principal_of)]
Ctl = Annotated[Control, Depends(control_of)]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", responses=ERRORS, tags=["auth"])

    @router.post("/auth/token", response_model=TokenResponse,
                 openapi_extra=body_doc(TokenRequest))
    async def issue_token(request: Request, ctl: Ctl) -> TokenResponse:
        """A bearer token for `Authorization: Bearer`; same 401 for any wrong pair."""
        body = await parse_body(request, TokenRequest)
        wait = await admit_login(ctl, request, body.username, "api-token")
        if wait:
            return JSONResponse(  # type: ignore[return-value]
                {"detail": THROTTLED}, status_code=429, headers={"Retry-After": str(wait)}
            )
        user = await ctl.store.authenticate(body.username, body.password)
        if user is not None:
            ctl.throttle.succeeded(source_of(request))
        if user is None:
            await audit(ctl, body.username, "login", "api-token", "failed")
            raise ControlError(401, "wrong username or password")
        issued = await ctl.store.create_token(user.username, ctl.session_ttl)
        await audit(ctl, user.username, "login", "api-token", "ok")
        return TokenResponse(access_token=issued.token)

    @router.delete("/auth/token", status_code=204)
    async def revoke_token(principal: Auth, ctl: Ctl) -> Response:
        """Revoke the token (or session) this request is authenticated with."""
        await ctl.store.revoke_token(principal.token)
        await audit(ctl, principal.actor.username, "logout", None, "ok")
        return Response(status_code=204)

    return router
