"""Error pages that speak to whoever sent the request: a whole page, or a fragment for htmx."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def _error(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    template = "errors.html#message" if getattr(request, "htmx", False) else "errors.html"
    return render(request, template, {"status": status, "title": title, "message": message}, status=status)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    message = str(exception) or "You don't have permission to do this."
    return _error(request, 403, "Not allowed", message)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _error(request, 404, "Not found", "This page doesn't exist, or it belongs to another team.")
