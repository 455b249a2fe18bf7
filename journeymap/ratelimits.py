"""HTTP rate limits (django-ratelimit): sign-in, joining with an invitation link, posting notes.

Counts live in the default cache: per process with the local-memory cache, shared by every
process with Redis. Each limit has a name; its rate comes from settings.RATE_LIMITS when set
there, else from RATES below. RATELIMIT_ENABLE = False turns every limit off.

    if ratelimits.hit(request, "login_ip", key="ip"):
        return ratelimits.too_many(request, ratelimits.MESSAGES["login"])

Views that post notes take the `limit_note_posts` decorator.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import escape
from django_ratelimit.core import is_ratelimited

# "count/period": s, m, h or d; "10/5m" is ten every five minutes.
RATES: dict[str, str] = {
    "login_ip": "10/m",  # sign-in attempts from one address
    "login_username": "5/m",  # sign-in attempts for one username, from anywhere
    "join_ip": "20/m",  # guests joining (accounts made) from one address
    "join_link_ip": "60/m",  # invitation links opened from one address
    "note_user": "60/m",  # notes posted by one person
}

MESSAGES = {
    "login": "Too many sign-in attempts. Wait a minute, then try again.",
    "join": "Too many attempts to join from this network in the last minute. Wait a moment, then try again.",
    "note": "You're adding notes very fast. Wait a moment, then send this one again: nothing was lost.",
}

RETRY_AFTER_SECONDS = 60
TOO_MANY_REQUESTS = 429


def rate_for(name: str) -> Callable[[str, HttpRequest], str]:
    def rate(group: str, request: HttpRequest) -> str:
        return getattr(settings, "RATE_LIMITS", {}).get(name, RATES[name])

    return rate


def hit(request: HttpRequest, name: str, *, key: str | Callable[[str, HttpRequest], str]) -> bool:
    """Count this request against limit `name`; True when it goes over."""
    return is_ratelimited(
        request, group=f"journeymap.{name}", key=key, rate=rate_for(name), increment=True
    )


def too_many(request: HttpRequest, message: str) -> HttpResponse:
    """A clear 429: for htmx a short message in the page's toast (the form keeps what was
    typed), else a page."""
    if getattr(request, "htmx", False):
        response = HttpResponse(escape(message), status=TOO_MANY_REQUESTS)
        response["HX-Retarget"] = "#toast"
        response["HX-Reswap"] = "innerHTML"
    else:
        context = {"status": TOO_MANY_REQUESTS, "title": "Please slow down", "message": message}
        response = render(request, "errors.html", context, status=TOO_MANY_REQUESTS)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def user_key(group: str, request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return "ip:" + (request.META.get("REMOTE_ADDR") or "")


def limit_note_posts(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Posting notes: at most RATES["note_user"] per person, across every board and form."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST" and hit(request, "note_user", key=user_key):
            return too_many(request, MESSAGES["note"])
        return view(request, *args, **kwargs)

    return wrapped


def forwarded_ip(request: HttpRequest) -> str:
    """The client's address behind one trusted reverse proxy (RATELIMIT_IP_META_KEY): the last
    address in X-Forwarded-For, the one the proxy itself added."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    last = forwarded.rsplit(",", 1)[-1].strip()
    try:
        return str(ipaddress.ip_address(last))
    except ValueError:
        return request.META.get("REMOTE_ADDR", "")
