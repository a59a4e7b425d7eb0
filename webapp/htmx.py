"""The only module that knows htmx's HX-* header names."""

from __future__ import annotations

from flask import Response, make_response, render_template, request


def is_fragment_request() -> bool:
    """Say whether htmx asked for a fragment (not a boosted or history-restore request)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Boosted") != "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render(page: str, fragment: str, status: int = 200, **context) -> Response:
    """Render the full page, or only its fragment for htmx; always `Vary: HX-Request`."""
    template = fragment if is_fragment_request() else page
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


def trigger(response: Response, event: str) -> Response:
    """Ask htmx to fire `event` on the page after this response."""
    response.headers["HX-Trigger"] = event
    return response


def redirect(response: Response, url: str) -> Response:
    """Tell htmx to navigate to `url` (a full page load)."""
    response.headers["HX-Redirect"] = url
    return response
