"""Django's ASGI handler, run as a threaded WSGI server would run Django: each request's sync code
in one thread hop, on a thread (and database connection) kept from one request to the next.

Django's own ASGI handler differs in two ways that cost a board's write path about a third:

- It runs each `MiddlewareMixin` middleware in async mode, which calls every `process_request`
  and `process_response` through `sync_to_async`: about a dozen thread hops per request, each
  waiting for the event loop that also feeds the board websockets. The views are synchronous
  (they write through the service functions, in a transaction), so the whole chain runs
  synchronously instead, entered once. Async views still work: the sync chain calls them through
  `async_to_sync`.
- It starts a new thread for every request (asgiref's `ThreadSensitiveContext`), and database
  connections belong to their thread, so `CONN_MAX_AGE` never keeps one: every request opened
  and set up its own. Here a request borrows one of a few long-lived threads instead, through
  the same `ThreadSensitiveContext` given that thread's executor. When they are all busy, a
  request gets a thread of its own, as before.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler

KEPT_THREADS = 8


class SyncMiddlewareASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self._idle: list[ThreadPoolExecutor] = []
        self._kept = 0

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)
        self._middleware_chain = sync_to_async(self._middleware_chain, thread_sensitive=True)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor, kept = self._borrow()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            if kept:
                self._idle.append(executor)
            else:
                executor.shutdown(wait=False)

    def _borrow(self) -> tuple[ThreadPoolExecutor, bool]:
        """An idle kept thread, a new kept one while there are fewer than KEPT_THREADS, or else
        a thread for this request only. (Called on the event loop only.)"""
        if self._idle:
            return self._idle.pop(), True
        if self._kept < KEPT_THREADS:
            self._kept += 1
            return ThreadPoolExecutor(max_workers=1, thread_name_prefix="http"), True
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="http-extra"), False


def get_asgi_application() -> SyncMiddlewareASGIHandler:
    """As `django.core.asgi.get_asgi_application`, with the handler above."""
    import django

    django.setup(set_prefix=False)
    return SyncMiddlewareASGIHandler()
