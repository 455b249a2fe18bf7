"""Django's ASGI handler, run as a threaded WSGI server would run Django: each request's sync code
in one thread hop, on a thread (and database connection) kept from one request to the next.

Django's own ASGI handler differs in two ways that cost a board's write path about half:

- It runs each `MiddlewareMixin` middleware in async mode, which calls every `process_request`
  and `process_response` through `sync_to_async`, and it sends the `request_started` and
  `request_finished` signals (whose receivers are synchronous) and closes the response in hops of
  their own: a dozen or more thread hops per request, each waiting for the event loop that also
  feeds the board websockets. The views are synchronous (they write through the service
  functions, in a transaction), so all of it runs synchronously instead, entered once. Async
  views still work: the sync chain calls them through `async_to_sync`.
- It starts a new thread for every request (asgiref's `ThreadSensitiveContext`), and database
  connections belong to their thread, so `CONN_MAX_AGE` never keeps one: every request opened
  and set up its own. Here a request borrows one of a few long-lived threads instead, through
  the same `ThreadSensitiveContext` given that thread's executor. When they are all busy, a
  request gets a thread of its own, as before.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import HttpResponseBase
from django.urls import set_script_prefix, set_urlconf
from django.utils.log import log_response

KEPT_THREADS = 8


class SyncMiddlewareASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self._idle: list[ThreadPoolExecutor] = []
        self._kept = 0

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)
        self._respond_in_thread = sync_to_async(self._respond, thread_sensitive=True)

    async def handle(self, scope, receive, send) -> None:
        """Django's `ASGIHandler.handle` with a request's synchronous work in one thread hop:
        the `request_started` signal, building the request, the middleware and the view, and
        (unless the response streams) closing it, which sends `request_finished` and gives the
        database connection back. Django's own takes a hop for each of these, and watches for a
        client disconnecting meanwhile, which a view running in a thread cannot act on anyway."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        try:
            response = await self._respond_in_thread(scope, body_file)
            await self.send_response(response, send)
            if response.streaming:
                await sync_to_async(response.close, thread_sensitive=True)()
        finally:
            body_file.close()

    def _respond(self, scope, body_file) -> HttpResponseBase:
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            set_urlconf(settings.ROOT_URLCONF)
            response = self._middleware_chain(request)
            response._resource_closers.append(request.close)
            if response.status_code >= 400:
                log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
        response._handler_class = self.__class__
        if not response.streaming:
            response.close()
        return response

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
