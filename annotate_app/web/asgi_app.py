"""What ``curate annotate`` serves: the Streamlit app (``app.py``) with every media request checked.

``streamlit run`` finds the ``st.App`` below and serves it with uvicorn. On top of
Streamlit's own routes it adds ``/clip-media/<signed token>``, ``/compare-player/<module>.js`` (the
player's ES modules, see ``annotate_app.web.player``) and a middleware that
guards Streamlit's ``/media/`` (see ``annotate_app.web.media_guard``).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import streamlit as st
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from annotate_app.web import clip_media as clip_media_files
from annotate_app.web import media_guard, player

_store = None
_store_lock = threading.Lock()
NO_SESSION = "Sign in first."
REFUSED = "This file is not yours to see (any more): sign in again or reload the page."


def _open_store():
    global _store
    with _store_lock:
        if _store is None:
            from storage.workspace import load

            _store = load(os.environ["CURATE_WORKSPACE"], db=os.environ.get("CURATE_DB_URL") or None).open_store()
        return _store


def _root() -> Path:
    return Path(os.environ["CURATE_WORKSPACE"])


async def clip_media(request):
    """``GET /clip-media/<token>``: one file of a leased clip (or of the clip predicted next), for the session
    the URL was signed for; cached by the browser and revalidated (``ETag``, ``304``) on every use."""
    token = request.path_params["token"]
    if (got := media_guard.verify(token)) is not None:
        path = await run_in_threadpool(media_guard.allowed_path, _open_store(), *got, _root())
    elif (got := media_guard.verify_next(token)) is not None:
        path = await run_in_threadpool(clip_media_files.allowed_next_path, _open_store(), *got, _root())
    else:
        path = None
    if path is None:
        return PlainTextResponse(REFUSED, status_code=403)
    try:
        stat = path.stat()
    except OSError as e:
        # The page shows "could not load" (no path reaches the browser); the admin reads the path here.
        clip_media_files.log.warning("media file missing for %s: %s (%s)", request.url.path[:40], path, e.strerror)
        return PlainTextResponse(clip_media_files.NOT_LOADED, status_code=404,
                                 headers={"Cache-Control": "no-store"})
    tag = clip_media_files.etag(stat)
    headers = {"Cache-Control": clip_media_files.CACHE, "ETag": tag}
    if clip_media_files.not_modified(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    return FileResponse(path, headers=headers, stat_result=stat)


async def player_module(request):
    """``GET /compare-player/<name>.js``: one ES module of the comparison player (code, no data)."""
    path = player.asset(request.path_params["name"])
    if path is None:
        return PlainTextResponse("Not found.", status_code=404)
    return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


def _media_status(handle: str | None, file_id: str) -> int:
    from annotate_app.accounts import resume_session

    if not handle:
        return 401
    if resume_session(_open_store(), handle) is None or not media_guard.file_shown_to(file_id, handle):
        return 403
    return 200


class MediaGuard:
    """ASGI middleware: Streamlit's ``/media/<file id>`` only for the signed-in page showing that file."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith("/media/"):
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            file_id = scope["path"][len("/media/"):].split(".", 1)[0]
            status = await run_in_threadpool(_media_status, media_guard.referer_session(headers.get("referer")), file_id)
            if status != 200:
                response = PlainTextResponse(NO_SESSION if status == 401 else REFUSED, status_code=status)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


app = st.App(
    "app.py",
    routes=[Route(media_guard.ROUTE_PREFIX + "{token}", clip_media),
            Route(player.ASSET_ROUTE + "{name}", player_module)],
    middleware=[Middleware(MediaGuard)],
)
