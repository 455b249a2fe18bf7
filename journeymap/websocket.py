"""Who may open a websocket: only pages of this very site."""

from __future__ import annotations

from channels.auth import AuthMiddleware
from channels.security.websocket import WebsocketDenier
from channels.sessions import CookieMiddleware, InstanceSessionWrapper, SessionMiddleware
from django.conf import settings
from django.http.request import split_domain_port, validate_host


def _headers(scope) -> dict[bytes, bytes]:
    return {name: value for name, value in scope.get("headers", [])}


def allowed_origin(scope) -> bool:
    """The Origin must be the site's own origin (scheme, host and port, as the page was served)
    or one of CSRF_TRUSTED_ORIGINS, the same rule Django's CSRF check applies to forms. A page on
    another site (cross-site websocket hijacking) or a client sending no Origin is refused."""
    headers = _headers(scope)
    origin = headers.get(b"origin", b"").decode("latin1")
    host = headers.get(b"host", b"").decode("latin1")
    if not origin or not host:
        return False
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    secure = scope.get("scheme") == "wss"
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        forwarded = headers.get(b"x-forwarded-proto", b"").decode("latin1").split(",")[0].strip()
        secure = secure or forwarded == "https"
    own = f"{'https' if secure else 'http'}://{host}"
    return origin == own or origin in settings.CSRF_TRUSTED_ORIGINS


class SameOriginValidator:
    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if allowed_origin(scope):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)


class ReadOnlySessionMiddleware(SessionMiddleware):
    """Channels' session middleware without its wrapper around `send`: a websocket here reads
    the session (who is signed in) and never changes it, so there is nothing to save, and every
    push to every socket need not go through a check for it."""

    async def __call__(self, scope, receive, send):
        wrapper = InstanceSessionWrapper(scope, send)
        await wrapper.resolve_session()
        return await self.inner(wrapper.scope, receive, send)


def AuthMiddlewareStack(inner):  # noqa: N802 - as channels.auth.AuthMiddlewareStack
    """Channels' stack (cookies, session, user in `scope["user"]`) with the read-only session."""
    return CookieMiddleware(ReadOnlySessionMiddleware(AuthMiddleware(inner)))
