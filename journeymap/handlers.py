"""Django's ASGI handler, with the middleware run as under WSGI: in one thread hop per request.

Django's own ASGI handler runs each `MiddlewareMixin` middleware in async mode, and async mode
calls every `process_request` and `process_response` through `sync_to_async`: about a dozen thread
hops per request with this project's middleware, each waiting for the event loop that also feeds
the board websockets. The views are synchronous (they write through the service functions, in a
transaction), so the whole chain runs synchronously in the request's thread instead, entered once.
Async views still work: the sync chain calls them through `async_to_sync`.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler


class SyncMiddlewareASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)
        self._middleware_chain = sync_to_async(self._middleware_chain, thread_sensitive=True)


def get_asgi_application() -> SyncMiddlewareASGIHandler:
    """As `django.core.asgi.get_asgi_application`, with the handler above."""
    import django

    django.setup(set_prefix=False)
    return SyncMiddlewareASGIHandler()
