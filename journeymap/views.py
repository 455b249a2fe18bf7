"""Error pages that speak to whoever sent the request: a whole page, or a fragment for htmx.

A fragment carries the `ERROR_FRAGMENT` header, so that `htmx_not_found` leaves it be. The page
swaps fragments where the request asked (a dialog, the toast), and keeps them from django-htmx's
DEBUG handler, which would put any 403 or 404 in place of the whole page (static/js/app.js)."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

ERROR_FRAGMENT = "X-Error-Fragment"
NOT_FOUND = "This isn't here any more: someone may have deleted it. Nothing was changed."


def _error(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    if getattr(request, "htmx", False):
        # A text someone typed for something gone meanwhile (a note deleted while they edited it)
        # comes back to them, so it isn't lost.
        kept = request.POST.get("text", "")[:2000] if request.method == "POST" and status == 404 else ""
        context = {"title": title, "message": message, "kept": kept.strip()}
        response = render(request, "errors.html#message", context, status=status)
        response[ERROR_FRAGMENT] = "1"
        return response
    return render(request, "errors.html", {"status": status, "title": title, "message": message}, status=status)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    message = str(exception) or "You don't have permission to do this."
    return _error(request, 403, "Not allowed", message)


def page_not_found(request: HttpRequest, exception: Exception | None) -> HttpResponse:
    if getattr(request, "htmx", False):  # a click on something gone: a note deleted meanwhile
        return _error(request, 404, "Not found", NOT_FOUND)
    return _error(request, 404, "Not found", "This page doesn't exist, or it belongs to another team.")


def htmx_not_found(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """Middleware: an htmx request that finds nothing gets the fragment under DEBUG too, where
    Django answers a 404 with its technical page instead of `handler404`."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        if response.status_code == 404 and request.htmx and ERROR_FRAGMENT not in response:
            return page_not_found(request, None)
        return response

    return middleware
