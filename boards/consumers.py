"""The board websocket: authorise, subscribe, replay what the client missed, forward pushes.

It never writes to the database. Browsers change the board through ordinary HTTP posts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Coroutine
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from boards import events, presence
from workshops import access
from workshops.models import Membership

CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MUCH = 4429
CLOSE_TRY_AGAIN = 1013
MAX_BEHIND = 1000  # messages queued for a client that reads nothing, before it must catch up anew

logger = logging.getLogger(__name__)


def start(coroutine: Coroutine[Any, Any, None]) -> Awaitable[None] | None:
    """Run `coroutine` until it first has to wait. None if it finished without waiting (a send
    to a client that reads: the common case); else a task that runs the rest of it."""
    try:
        waiting_for = coroutine.send(None)
    except StopIteration:
        return None
    return asyncio.ensure_future(_finish(coroutine, waiting_for))


async def _finish(coroutine: Coroutine[Any, Any, None], waiting_for: Any) -> None:
    """Drive a started coroutine to its end, as an asyncio task would: wait for the future it
    yielded, resume it, and so on."""
    try:
        while True:
            if waiting_for is None:  # a bare yield (asyncio.sleep(0))
                await asyncio.sleep(0)
            else:
                await asyncio.wait([waiting_for])
            waiting_for = coroutine.send(None)
    except StopIteration:
        return
    except asyncio.CancelledError:
        coroutine.close()
        raise


class RateLimit:
    """A sliding window: at most `limit` events per `seconds`."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self.times: list[float] = []

    def allow(self) -> bool:
        now = time.monotonic()
        self.times = [t for t in self.times if now - t < self.seconds]
        if len(self.times) >= self.limit:
            return False
        self.times.append(now)
        return True


PONG = "pong"


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class BoardConsumer(AsyncWebsocketConsumer):
    scenario_id: int
    member: Membership | None = None
    last_sent: int = 0
    behind: deque[str] | None = None  # messages queued behind a send that waits for the client
    overflowed: bool = False
    joined: bool = False
    groups_joined: tuple[str, ...] = ()

    async def connect(self) -> None:
        self.limiter = RateLimit(*settings.WEBSOCKET_RATE)
        self.scenario_id = self.scope["url_route"]["kwargs"]["scenario_id"]
        self.member = await database_sync_to_async(access.board_membership)(self.scope["user"], self.scenario_id)
        await self.accept()
        if self.member is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        since = _int(query.get("since", [None])[0])
        # Subscribe before reading what was missed: nothing committed in between is lost. Pushes
        # that arrive meanwhile wait in `pending` and go out after the catch-up, in seq order.
        self.pending: list[events.Frame] = []
        self.ready = False
        await events.hub().join(self.scenario_id, self)
        self.joined = True
        self.groups_joined = (
            events.member_group(self.scenario_id, self.member.pk),
            events.membership_group(self.member.pk),
        )
        await events.subscribe(self.channel_name, *self.groups_joined)
        messages, self.last_sent = await database_sync_to_async(events.catch_up)(
            self.scenario_id, since, self.member
        )
        events.hub().caught_up(self.scenario_id, self.last_sent)
        for message in messages:
            await self.send(text_data=message)
        self.ready = True
        for frame in self.pending:
            await self.deliver(frame)
        self.pending = []
        await presence.register.join(self.scenario_id, self.channel_name, presence.Person.of(self.member))
        await events.presence_changed(self.scenario_id)

    async def disconnect(self, code: int) -> None:
        if not self.joined:
            return
        await events.hub().leave(self.scenario_id, self)
        await events.unsubscribe(self.channel_name, *self.groups_joined)
        await presence.register.leave(self.scenario_id, self.channel_name)
        await events.presence_changed(self.scenario_id)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The only thing a client sends is its heartbeat: answered, and it keeps presence fresh.
        A flood or an oversize message closes this socket alone."""
        if self.member is None:
            return
        size = len(text_data or "") + len(bytes_data or b"")
        if size > settings.WEBSOCKET_MAX_CLIENT_MESSAGE or not self.limiter.allow():
            await self.close(code=CLOSE_TOO_MUCH)
            return
        await presence.register.touch(self.scenario_id, self.channel_name)
        await self.send(text_data=PONG)

    async def board_revoke(self, event: dict) -> None:
        """This person's access was revoked: close with 4403, which the page does not retry."""
        await self.close(code=CLOSE_FORBIDDEN)

    async def deliver(self, frame: events.Frame) -> None:
        """Board pushes from this process's hub, in seq order: the same message for every socket
        on the board, sent straight to the server (the hub is the hot path of every change).

        It never makes the hub wait for this client. A send that has to wait (the client reads
        nothing: a phone asleep, a dead connection not noticed yet) goes on by itself, and what
        comes meanwhile queues behind it, in order. A client that falls MAX_BEHIND messages
        behind is closed with 1013 once it reads again: its page reconnects and catches up by seq.
        """
        if not self.ready:
            self.pending.append(frame)
            return
        if self.overflowed:
            return  # closing: the page catches up from the database when it reconnects
        if frame.last:
            if frame.last <= self.last_sent:
                return  # already sent during catch-up
            text = frame.after(self.last_sent)
            self.last_sent = frame.last
        else:
            text = frame.html
        if self.behind is not None:
            if len(self.behind) >= MAX_BEHIND:
                self.behind.clear()
                self.overflowed = True
            else:
                self.behind.append(text)
            return
        waiting = start(self.base_send({"type": "websocket.send", "text": text}))
        if waiting is not None:
            self.behind = deque()
            asyncio.ensure_future(self._catch_up_with_client(waiting))

    async def _catch_up_with_client(self, waiting: Awaitable[None]) -> None:
        try:
            await waiting
            while self.behind and not self.overflowed:
                await self.base_send({"type": "websocket.send", "text": self.behind.popleft()})
            if self.overflowed:
                await self.close(code=CLOSE_TRY_AGAIN)
        except Exception:  # noqa: BLE001 - the client is gone: disconnect() cleans up
            logger.info("A board socket went away while behind", exc_info=True)
        finally:
            self.behind = None

    async def board_push(self, event: dict) -> None:
        """A private push (this person's dots, their private notes): no seq. During catch-up it
        waits, so the private state sent then cannot overwrite a newer one."""
        await self.deliver(events.Frame(0, 0, event["html"]))


def _my_actions_unless(user, version: str) -> str:
    from workshops import render as workshops_render

    if version and version == workshops_render.my_actions_version(user):
        return ""
    return workshops_render.my_actions(user)


class PersonalConsumer(AsyncWebsocketConsumer):
    """A person's own live pages ("My actions"): a fresh copy on connect, then their pushes."""

    user_id: int | None = None

    async def connect(self) -> None:
        user = self.scope["user"]
        await self.accept()
        if not user.is_authenticated:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.user_id = user.pk
        await events.subscribe(self.channel_name, events.user_group(user.pk))
        # A fresh copy, unless the page's own is still current (it says which it has): a list
        # just shown keeps its "New" badges, which showing it has already cleared.
        shown = parse_qs(self.scope.get("query_string", b"").decode()).get("v", [""])[0]
        fresh = await database_sync_to_async(_my_actions_unless)(user, shown)
        if fresh:
            await self.send(text_data=fresh)

    async def disconnect(self, code: int) -> None:
        if self.user_id is not None:
            await events.unsubscribe(self.channel_name, events.user_group(self.user_id))

    async def board_push(self, event: dict) -> None:
        await self.send(text_data=event["html"])
