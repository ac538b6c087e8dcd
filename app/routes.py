"""HTTP routes served beside the Streamlit app (st.App routes): health check and the session cookie.

The session cookie is set and deleted here, not by page JavaScript, so that it can be HttpOnly: the page
hands the browser a one-time ticket, the browser POSTs it to /api/session, and this route answers with
Set-Cookie. /api/signout revokes the session named by the cookie and deletes the cookie.
"""
from __future__ import annotations

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app import auth
from app.config import load_settings
from app.db import get_database


def _settings():  # noqa: ANN202
    return load_settings()


def _db():  # noqa: ANN202
    settings = load_settings()
    return get_database(settings.database_url, schema=settings.database_schema)


async def health(_request: Request) -> JSONResponse:
    db = _db()

    def probe() -> int:
        with db.read() as conn:
            conn.execute(sa.text("SELECT 1")).scalar()
        return db.schema_version()

    try:
        version = await run_in_threadpool(probe)
    except Exception as exc:  # the health check reports, it does not raise
        return JSONResponse({"status": "error", "error": type(exc).__name__}, status_code=503)
    return JSONResponse({"status": "ok", "database": db.dialect, "schema_version": version})


async def open_session(request: Request) -> JSONResponse:
    settings = _settings()
    try:
        body = await request.json()
        ticket = str(body.get("ticket", ""))
    except Exception:
        return JSONResponse({"ok": False}, status_code=400)
    token = await run_in_threadpool(auth.redeem_ticket, _db(), ticket) if ticket else None
    if token is None:
        return JSONResponse({"ok": False}, status_code=403)
    response = JSONResponse({"ok": True})
    response.set_cookie(settings.cookie_name, token, max_age=settings.session_hours * 3600, path="/",
                        httponly=True, samesite="lax", secure=settings.cookie_secure)
    return response


async def close_session(request: Request) -> JSONResponse:
    settings = _settings()
    token = request.cookies.get(settings.cookie_name)
    if token:
        await run_in_threadpool(lambda: auth.sign_out(_db(), cookie_token=token))
    response = JSONResponse({"ok": True})
    response.delete_cookie(settings.cookie_name, path="/", httponly=True, samesite="lax",
                           secure=settings.cookie_secure)
    return response


ROUTES = [
    Route("/healthz", health, methods=["GET"]),
    Route("/api/session", open_session, methods=["POST"]),
    Route("/api/signout", close_session, methods=["POST"]),
]
