"""The web page: `/` serves `static/index.html`, `/static/...` its script and style sheet.

Mounted into the BentoML service, so the page and the API share one process and one port; the service adds
the routes that BentoML's own APIs do not fit (file upload, corrections).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from starlette.applications import Starlette
from starlette.responses import FileResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"


async def _index(_request) -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html")


def page_app(routes: Sequence[BaseRoute] = ()) -> Starlette:
    return Starlette(routes=[
        Route("/", _index, methods=["GET"]),
        *routes,
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ])
