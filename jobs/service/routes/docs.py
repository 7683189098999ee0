"""Swagger UI (`/docs`) and ReDoc (`/redoc`) from assets the service serves itself (the
`fastapi-offline` package's copies), so the docs work on a network without internet."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

__all__ = ["ASSETS", "router"]

router = APIRouter(include_in_schema=False)

_PREFIX = "/docs/assets"
ASSETS = {  # the only files served: name -> media type
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
_TITLE = "lungscreen API"


def _static() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


@router.get("/docs")
def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json", title=_TITLE,
        swagger_js_url=f"{_PREFIX}/swagger-ui-bundle.js",
        swagger_css_url=f"{_PREFIX}/swagger-ui.css",
        swagger_favicon_url=f"{_PREFIX}/favicon.png",
        swagger_ui_parameters={"validatorUrl": None})  # no call to an outside validator


@router.get("/redoc")
def redoc() -> HTMLResponse:
    return get_redoc_html(openapi_url="/openapi.json", title=_TITLE,
                          redoc_js_url=f"{_PREFIX}/redoc.standalone.js",
                          redoc_favicon_url=f"{_PREFIX}/favicon.png", with_google_fonts=False)


@router.get(_PREFIX + "/{name}")
def asset(name: str) -> FileResponse:
    """One of ASSETS; 404 for any other name (no path is ever joined from the request)."""
    if name not in ASSETS:
        raise HTTPException(404, "no such documentation asset")
    return FileResponse(_static() / name, media_type=ASSETS[name],
                        headers={"Cache-Control": "public, max-age=86400"})
