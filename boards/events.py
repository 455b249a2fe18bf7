"""Board events: the ordered log of changes, and the one place that talks to the channel layer.

Every write to a board calls `lock_board` first, then `append` once: the event takes the
board's next seq, stores the HTML push that every screen will apply, and is broadcast
only after the transaction commits. A one-row change checked on what its request read can
instead go through `append_with_update`, which writes it and its event at once (on PostgreSQL in
one statement) if nothing it was made from has changed. Consumers replay stored events to clients that missed them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from channels_redis.utils import _consistent_hash, decode_hosts
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Model, Q
from django.utils.html import format_html

from boards.models import BoardEvent, Scenario

logger = logging.getLogger(__name__)
PUSH_TYPE = "board.push"
PRESENCE_TYPE = "board.presence"  # someone came or went: each process reads the people present
BOARD_LAYER = "board"  # the channel layer alias for board pushes, where one is set
FILL_TYPE = "board.fill"  # within a hub: send a board's pushes that never came, from the database


def group_name(scenario_id: int) -> str:
    return f"board.{scenario_id}"


def lock_board(board: Scenario | int) -> Scenario:
    """Lock the board's row for the rest of the transaction: writes to one board queue up here,
    and read it afresh. Given the board as the request read it, with its workshop, the workshop is
    not read again: a workshop never changes team, which is what the checks read of it."""
    workshop = None
    if isinstance(board, Scenario):
        workshop = board.workshop if Scenario.workshop.is_cached(board) else None
        board = board.pk
    locking = Scenario.objects.select_for_update(of=("self",))
    if workshop is None:
        return locking.select_related("workshop").get(pk=board)
    scenario = locking.get(pk=board)
    scenario.workshop = workshop
    return scenario


def applied_event(scenario: Scenario, request_id: uuid.UUID | None) -> BoardEvent | None:
    """The event a retried request already produced, if any."""
    if request_id is None:
        return None
    try:  # unique per board
        return BoardEvent.objects.get(scenario=scenario, request_id=request_id)
    except BoardEvent.DoesNotExist:
        return None


# The events that change what a conflict compares (its version), by what they change.
_CHANGES = {
    "note": Q(kind__startswith="note."),
    "phase": Q(kind="phase.updated"),
    "interaction": Q(kind__in=["interaction.updated", "interaction.rated"]),
}


def last_changed_by(scenario: Scenario, *, what: str, pk: int) -> str:
    """Who made the latest change to a note, phase or interaction (`what`) of this board, by
    name, for a conflict's message."""
    event = (
        BoardEvent.objects.filter(_CHANGES[what], scenario=scenario, **{f"payload__{what}": pk})
        .select_related("actor__user")
        .order_by("-seq")
        .first()
    )
    return event.actor.name if event is not None and event.actor is not None else "Someone else"


def seq_marker(seq: int, *, reset: bool = False) -> str:
    """The element each push starts with: it carries the seq the client checks and keeps."""
    if reset:
        return format_html(
            '<span id="board-seq" data-seq="{}" data-reset hidden hx-swap-oob="true"></span>', seq
        )
    return format_html('<span id="board-seq" data-seq="{}" hidden hx-swap-oob="true"></span>', seq)


def append(
    *,
    scenario: Scenario,
    kind: str,
    actor_id: int | None,
    payload: dict[str, Any],
    fragments: Iterable[str],
    request_id: uuid.UUID | None = None,
) -> BoardEvent:
    """Append an event with the board's next seq and broadcast it once the transaction commits.

    `scenario` must come from `lock_board` in the current transaction.
    """
    scenario.last_seq += 1
    html = seq_marker(scenario.last_seq) + "".join(fragments)
    event = BoardEvent(
        scenario=scenario,
        seq=scenario.last_seq,
        kind=kind,
        payload=payload,
        actor_id=actor_id,
        request_id=request_id,
        html=html,
    )
    try:
        _store(event)
    except IntegrityError as exc:
        _refuse_request_made_already(exc, request_id)
    scenario_id, seq = scenario.pk, event.seq
    transaction.on_commit(lambda: broadcast(scenario_id, seq, html))
    return event


def _refuse_request_made_already(exc: IntegrityError, request_id: uuid.UUID | None) -> None:
    """Raise what an event's failed insert means: a request id this board has seen, on a request
    the service did not take for a retry of that one, is refused with a message for its sender
    (its transaction rolled back); any other integrity error as it is. (The message names the
    constraint on PostgreSQL, its columns on SQLite.)"""
    if request_id is None or not any(m in str(exc) for m in ("event_unique_request", "boardevent.request_id")):
        raise exc
    raise ValidationError("This request was made already: reload the page and try again.") from None


def can_write_at_once() -> bool:
    """Whether `append_with_update` can be tried here: on PostgreSQL outside a transaction (its
    statement is one); on SQLite wherever it can return what it writes (3.35 and later)."""
    if connection.vendor == "postgresql":
        return not connection.in_atomic_block
    return connection.vendor == "sqlite" and connection.features.can_return_columns_from_insert


def append_with_update(
    *,
    read: Model,
    changed: Model,
    update_fields: Sequence[str],
    kind: str,
    actor_id: int | None,
    payload: dict[str, Any],
    fragments: Iterable[str],
    request_id: uuid.UUID | None = None,
) -> BoardEvent | None:
    """Save one row's change and append its event at once, if the row and its board are still as
    the request read them; else write nothing and return None, and the caller takes the board's
    lock (`lock_board`) and does it the usual way.

    `read` is the row as read, with its board (`read.scenario`) as read too; `changed` is a copy
    with `update_fields` changed. Only if every column of both is as read (but the board's seq,
    which every other write moves) does it update the row, move the board's seq and insert the
    event with that seq, all or nothing. So whatever the change's checks and its push were made
    from has not changed since.

    On PostgreSQL that is one statement, its own transaction (see `can_write_at_once`), which
    locks the board's row and the changed one: the board's lock is held only while the database
    runs it, where the usual way holds it over four round trips, and on a busy board every write
    to it waits for them (docs/performance.md). On SQLite, whose writers take the database's
    lock for their whole transaction, it is three statements (the guarded move of the seq, the
    row, the event) built once per process, where the usual way has Django compile four.
    """
    scenario: Scenario = read.scenario
    model = type(read)
    statement = _at_once_statement(connection.vendor, model, tuple(update_fields))
    event = BoardEvent(scenario=scenario, kind=kind, payload=payload, actor_id=actor_id, request_id=request_id)
    html = "".join(fragments)
    board = [f.get_db_prep_value(getattr(scenario, f.attname), connection) for f in statement.board_fields]
    row = [f.get_db_prep_value(getattr(read, f.attname), connection) for f in statement.row_fields]
    changes = [f.get_db_prep_save(getattr(changed, f.attname), connection) for f in statement.changes]
    inserted = [f.get_db_prep_save(f.pre_save(event, add=True), connection) for f in statement.inserted]
    try:
        if connection.vendor == "postgresql":
            head, tail = seq_marker(0).split('data-seq="0"')
            with connection.cursor() as cursor:
                cursor.execute(statement.sql[0], [
                    scenario.pk, read.pk, *board, *row, *changes, read.pk, *inserted,
                    head + 'data-seq="', '"' + tail + html,
                ])
                found = cursor.fetchone()
        else:
            found = _write_at_once_sqlite(statement, scenario, read, board, row, changes, inserted, html)
    except IntegrityError as exc:
        _refuse_request_made_already(exc, request_id)
    if found is None:
        return None
    event.pk, event.seq = found
    event.html = seq_marker(event.seq) + html
    event._state.adding = False
    event._state.db = connection.alias
    scenario_id, seq, push = scenario.pk, event.seq, event.html
    transaction.on_commit(lambda: broadcast(scenario_id, seq, push))
    return event


def _write_at_once_sqlite(statement: _AtOnce, scenario: Scenario, read: Model, board: list, row: list,
                          changes: list, inserted: list, html: str) -> tuple[int, int] | None:
    move_seq, update, insert = statement.sql
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(move_seq, [scenario.pk, *board, read.pk, *row])
        moved = cursor.fetchone()
        if moved is None:  # the board or the row changed since they were read: nothing written
            return None
        seq = moved[0]
        cursor.execute(update, [*changes, read.pk])
        cursor.execute(insert, [*inserted, seq, seq_marker(seq) + html])
        return cursor.fetchone()[0], seq


@dataclass(frozen=True)
class _AtOnce:
    sql: tuple[str, ...]
    board_fields: list  # the fields whose values the statements take, in order
    row_fields: list
    changes: list
    inserted: list


@functools.cache
def _at_once_statement(vendor: str, model: type[Model], update_fields: tuple[str, ...]) -> _AtOnce:
    """`append_with_update`'s SQL for a model and its changed fields, on this database."""
    quote = connection.ops.quote_name
    postgresql = vendor == "postgresql"

    def matches(alias: str, fields: list) -> str:
        columns = ", ".join(f"{alias}.{quote(f.column)}" for f in fields)
        if postgresql:
            return f"({columns}) IS NOT DISTINCT FROM ({', '.join(f'%s::{f.db_type(connection)}' for f in fields)})"
        return f"({columns}) IS ({', '.join(['%s'] * len(fields))})"

    def value(f) -> str:
        return f"%s::{f.db_type(connection)}" if postgresql else "%s"

    board_fields = [f for f in Scenario._meta.concrete_fields if f.name != "last_seq"]
    row_fields = list(model._meta.concrete_fields)
    changes = [model._meta.get_field(name) for name in update_fields]
    inserted = [f for f in BoardEvent._meta.concrete_fields if not f.primary_key and f.name not in ("seq", "html")]
    board, table, events = (quote(m._meta.db_table) for m in (Scenario, model, BoardEvent))
    pk = quote(model._meta.pk.column)
    assignments = ", ".join(f"{quote(f.column)} = {value(f)}" for f in changes)
    columns = ", ".join(quote(f.column) for f in inserted)
    if postgresql:
        sql = (
            f"WITH locked AS (SELECT b.id FROM {board} b, {table} r"
            f" WHERE b.id = %s AND r.{pk} = %s"
            f" AND {matches('b', board_fields)} AND {matches('r', row_fields)} FOR UPDATE OF b, r),"
            f" seq AS (UPDATE {board} SET last_seq = last_seq + 1 WHERE id = (SELECT id FROM locked) RETURNING last_seq),"
            f" changed AS (UPDATE {table} SET {assignments}"
            f" WHERE {pk} = %s AND EXISTS (SELECT 1 FROM locked) RETURNING 1)"
            f" INSERT INTO {events} ({columns}, seq, html)"
            f" SELECT {', '.join(value(f) for f in inserted)}, seq.last_seq,"
            f" %s || seq.last_seq || %s FROM seq, changed RETURNING id, seq"
        )
        return _AtOnce((sql,), board_fields, row_fields, changes, inserted)
    move_seq = (
        f"UPDATE {board} AS b SET last_seq = last_seq + 1 WHERE b.id = %s AND {matches('b', board_fields)}"
        f" AND EXISTS (SELECT 1 FROM {table} r WHERE r.{pk} = %s AND {matches('r', row_fields)}) RETURNING last_seq"
    )
    update = f"UPDATE {table} SET {assignments} WHERE {pk} = %s"
    insert = f"INSERT INTO {events} ({columns}, seq, html) VALUES ({', '.join(['%s'] * (len(inserted) + 2))}) RETURNING id"
    return _AtOnce((move_seq, update, insert), board_fields, row_fields, changes, inserted)


def _store(event: BoardEvent) -> None:
    """Move the board's seq to the event's, and insert the event. On PostgreSQL in one statement:
    the board's row stays locked until the commit, and each round trip to the server while it is
    held keeps every other write to the board waiting."""
    if connection.vendor != "postgresql":
        Scenario.objects.filter(pk=event.scenario_id).update(last_seq=event.seq)
        event.save(force_insert=True)
        return
    fields = [f for f in BoardEvent._meta.concrete_fields if not f.primary_key]
    values = [f.get_db_prep_save(f.pre_save(event, add=True), connection) for f in fields]
    sql = (
        f"WITH seq AS (UPDATE {Scenario._meta.db_table} SET last_seq = %s WHERE id = %s) "
        f"INSERT INTO {BoardEvent._meta.db_table} ({', '.join(f.column for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [event.seq, event.scenario_id, *values])
        event.pk = cursor.fetchone()[0]
    event._state.adding = False
    event._state.db = connection.alias


def broadcast(scenario_id: int, seq: int, html: str) -> None:
    """Send a committed event to the board's sockets: to this process's hubs at once, and through
    the channel layer to the other processes'. If the layer is down (Redis restarting), the change
    is safe in the database: the failure is logged, and clients catch up by seq when their sockets
    come back, rather than failing the request that made the change."""
    message = {"type": PUSH_TYPE, "scenario": scenario_id, "seq": seq, "html": html, "origin": ORIGIN}
    group, layer = group_name(scenario_id), _push_layer()
    publisher = _publisher(layer) if layer is not None else None
    if publisher is not None:
        # Published before this process's own sockets are handed the push: once they are, the
        # event loop sending to them would hold up this thread, and the other processes' sockets.
        try:
            publisher.publish(group, layer.serialize(message))
        except Exception:  # noqa: BLE001 - as in _group_send: the database already has the change
            logger.exception("Could not push to %s; clients will catch up when they reconnect", group)
    _offer_locally(scenario_id, message)
    if layer is not None and publisher is None:
        _group_send(group, message, layer=layer)


class _Publisher:
    """Publishes board pushes to Redis from the thread that committed them, as the `board` layer
    (channels-redis's pub/sub layer) would, for that layer's readers in every process.

    The layer's own group_send is a coroutine: from a request's thread it waits for the server's
    event loop, busy with the sockets, to run it, and costs that loop a few hundred microseconds a
    push in redis-py's asyncio client. One PUBLISH on a pooled synchronous connection does the same
    in the request's thread, and leaves the loop to the sockets.
    """

    def __init__(self, hosts: list[dict], prefix: str) -> None:
        self.prefix = prefix
        self.clients = [redis.Redis.from_url(h["address"], **{k: v for k, v in h.items() if k != "address"}) for h in hosts]

    def publish(self, group: str, data: bytes) -> None:
        # The channel and the shard the pub/sub layer reads a group on (channels_redis.pubsub).
        channel = f"{self.prefix}__group__{group}"
        self.clients[_consistent_hash(channel, len(self.clients))].publish(channel, data)


@functools.lru_cache(maxsize=4)
def _publisher(layer) -> _Publisher | None:
    """The publisher for the `board` layer, or None where its pushes go through group_send (the
    in-memory or core layers, or hosts given other than by address, such as a Sentinel)."""
    from django.conf import settings

    if not isinstance(layer, RedisPubSubChannelLayer) or BOARD_LAYER not in settings.CHANNEL_LAYERS:
        return None
    config = settings.CHANNEL_LAYERS[BOARD_LAYER].get("CONFIG", {})
    hosts = decode_hosts(config.get("hosts"))
    if not all("address" in h for h in hosts):
        return None
    return _Publisher(hosts, config.get("prefix", "asgi"))


def _shared_layer():
    """The channel layer if it reaches other processes (Redis). None for the in-memory layer: only
    this process could read it, and this process's hubs get every board push directly."""
    layer = get_channel_layer()
    if layer is None or isinstance(layer, InMemoryChannelLayer):
        return None
    return layer


def _push_layer():
    """The layer that carries board pushes between processes: the `board` layer where one is set
    (Redis pub/sub), else the shared default one; None with one process."""
    from django.conf import settings

    if BOARD_LAYER in settings.CHANNEL_LAYERS and _shared_layer() is not None:
        return get_channel_layer(BOARD_LAYER)
    return _shared_layer()


def _offer_locally(scenario_id: int, message: dict) -> None:
    """Hand a board push to every hub of this process that has sockets on the board (callable
    from any thread: the hub takes it on its own event loop)."""
    for loop, h in list(_hubs.items()):
        if scenario_id in h.sockets:
            try:
                loop.call_soon_threadsafe(h.offer, message)
            except RuntimeError:  # that loop has closed since
                pass


def _group_send(group: str, message: dict, *, layer=None) -> None:
    layer = layer or get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # noqa: BLE001 - any layer failure: the database already has the change
        logger.exception("Could not push to %s; clients will catch up when they reconnect", group)


def member_group(scenario_id: int, member_id: int) -> str:
    """One person's private channel on one board (their dots, their private notes)."""
    return f"board.{scenario_id}.member.{member_id}"


def user_group(user_id: int) -> str:
    """One person's channel across pages that are not a board ("My actions")."""
    return f"user.{user_id}"


def push_to_member(*, member_id: int, html: str) -> None:
    """After commit, send `html` to every board socket of one membership, whatever the board
    (the menu's count of new actions). No seq, never replayed: a page loads it afresh."""
    _send_on_commit(membership_group(member_id), html)


def push_private(*, scenario_id: int, member_id: int, html: str) -> None:
    """After commit, send `html` to one person's sockets on one board. Not part of the board's
    state: no seq, never replayed (a reconnecting socket gets that person's state afresh)."""
    _send_on_commit(member_group(scenario_id, member_id), html)


def membership_group(member_id: int) -> str:
    """Every board socket of one membership, whatever the board: used to cut a revoked guest off."""
    return f"membership.{member_id}"


REVOKE_TYPE = "board.revoke"


def disconnect_member(member_id: int) -> None:
    """After commit, close every open board socket of this membership (close code 4403)."""

    transaction.on_commit(lambda: _group_send(membership_group(member_id), {"type": REVOKE_TYPE}))


def push_to_user(*, user_id: int, html: str) -> None:
    """After commit, send `html` to one person's open pages that listen for it."""
    _send_on_commit(user_group(user_id), html)


def _send_on_commit(group: str, html: str) -> None:
    transaction.on_commit(lambda: _group_send(group, {"type": PUSH_TYPE, "seq": 0, "html": html}))


def missed_events(scenario_id: int, since: int, limit: int) -> list[tuple[int, str]] | None:
    """The pushes after `since`, in order; None when the client is too far behind to replay."""
    rows = list(
        BoardEvent.objects.filter(scenario_id=scenario_id, seq__gt=since)
        .order_by("seq")
        .values_list("seq", "html")[: limit + 1]
    )
    if len(rows) > limit:
        return None
    if rows and rows[0][0] != since + 1:
        return None
    return rows


def board_seqs(scenario_ids: list[int]) -> dict[int, int]:
    return dict(Scenario.objects.filter(pk__in=scenario_ids).values_list("pk", "last_seq"))


# Per-process fan-out ----------------------------------------------------------------------------

ORIGIN = uuid.uuid4().hex  # this process: it skips its own pushes when the layer echoes them back
MAX_FRAME_PUSHES = 100  # board pushes joined into one websocket message at most


@dataclass(frozen=True)
class Frame:
    """One websocket message for a board's sockets: the board pushes `first`..`last`, consecutive
    and in seq order, joined as they were stored; or, with seq 0, one push that is not board state
    (the people present). Built once, the same bytes for every socket."""

    first: int
    last: int
    html: str
    parts: tuple[tuple[int, str], ...] = ()

    @classmethod
    def of(cls, parts: list[tuple[int, str]]) -> Frame:
        return cls(parts[0][0], parts[-1][0], "".join(html for _, html in parts), tuple(parts))

    def after(self, seq: int) -> str:
        """The message for a socket that has had everything up to `seq` already."""
        if self.first > seq:
            return self.html
        return "".join(html for part_seq, html in self.parts if part_seq > seq)


def frames(messages: list[dict]) -> list[tuple[int, Frame]]:
    """Board pushes that are waiting together, as few messages as order allows: each board's run
    of consecutive pushes becomes one message (up to MAX_FRAME_PUSHES); a push with no seq goes
    on its own, after the board pushes that came before it."""
    out: list[tuple[int, Frame]] = []
    runs: dict[int, list[tuple[int, str]]] = {}

    def flush(scenario_id: int) -> None:
        run = runs.pop(scenario_id, None)
        if run:
            out.append((scenario_id, Frame.of(run)))

    for message in messages:
        scenario_id, seq = message["scenario"], message.get("seq") or 0
        if not seq:
            flush(scenario_id)
            out.append((scenario_id, Frame(0, 0, message["html"])))
            continue
        run = runs.setdefault(scenario_id, [])
        if run and seq != run[-1][0] + 1:
            flush(scenario_id)
            run = runs.setdefault(scenario_id, [])
        run.append((seq, message["html"]))
        if len(run) >= MAX_FRAME_PUSHES:
            flush(scenario_id)
    for scenario_id in list(runs):
        flush(scenario_id)
    return out


class Hub:
    """One process's fan-out for board pushes.

    Pushes reach the hub of the process that committed them directly, and other processes'
    hubs through the channel layer, once per process (a hub subscribes one channel of its own to
    a board's group while it has sockets on that board). The hub hands each push to its sockets,
    in seq order. Pushes that arrive while it is still sending earlier ones wait in its inbox,
    and go out together: one message per socket for all of a board's waiting pushes, so a
    busy board costs fewer sends, not a growing queue. If the layer fails (Redis restarting), the
    process closes its board sockets with 1012; pages reconnect and catch up by seq.

    With several processes, board pushes come through the `board` layer (Redis pub/sub) where one
    is set, and everything else through the default layer, whose failure is the signal that Redis
    went away (pub/sub reconnects without a word). The hub also sweeps: every HUB_SWEEP_SECONDS
    it reads its boards' seqs from the database, and a seq that was committed at the sweep before
    and has still not reached it (pub/sub keeps nothing through a dropped connection) is sent from
    the database, in order, as a gap would be.
    """

    CLOSE_RESTART = 1012

    def __init__(self) -> None:
        self.sockets: dict[int, set] = {}
        self.last_seq: dict[int, int] = {}
        self.channel: str | None = None
        self.listener: asyncio.Task | None = None
        self.push_channel: str | None = None  # on the `board` layer, where one is set
        self.push_listener: asyncio.Task | None = None
        self.sweeper: asyncio.Task | None = None
        self.sender: asyncio.Task | None = None
        self.inbox: list[dict] = []
        self.waiting: asyncio.Event | None = None
        # Boards whose presence push is held for a moment: True if a change waits for it.
        self.presence_waiting: dict[int, bool] = {}
        self.presence_reading: dict[int, asyncio.Task] = {}  # each board's latest read, in order
        self.closing: set[asyncio.Task] = set()  # sockets being closed for a restart
        self.joining = asyncio.Lock()

    async def join(self, scenario_id: int, socket) -> None:
        if self.sender is None or self.sender.done():
            self.waiting = asyncio.Event()
            self.sender = asyncio.get_running_loop().create_task(self._send())
        # One join at a time through the layers: two sockets arriving together must not start two
        # listeners, nor one of them find its board half subscribed.
        async with self.joining:
            layer, pushes = _shared_layer(), _push_layer()
            loop = asyncio.get_running_loop()
            if layer is not None and (self.listener is None or self.listener.done()):
                # The layer's own kind of process channel: channels-redis reads one per process.
                self.channel = await layer.new_channel()
                self.sockets = {}
                self.listener = loop.create_task(self._listen(layer, self.channel))
            if pushes is not None and pushes is not layer and (self.push_listener is None or self.push_listener.done()):
                self.push_channel = await pushes.new_channel()
                self.push_listener = loop.create_task(self._listen(pushes, self.push_channel))
            if pushes is not None and (self.sweeper is None or self.sweeper.done()):
                self.sweeper = loop.create_task(self._sweep_every(_sweep_seconds()))
            if scenario_id not in self.sockets:
                # In the board's groups first: if that fails, the next socket to come tries again.
                for each, channel in self._subscriptions():
                    await each.group_add(group_name(scenario_id), channel)
                self.sockets[scenario_id] = set()
            self.sockets[scenario_id].add(socket)

    def _subscriptions(self) -> list[tuple[Any, str]]:
        """The (layer, channel) pairs this process reads boards' groups on: the default layer's,
        and the `board` layer's where one is set."""
        layer, pushes = _shared_layer(), _push_layer()
        subscribed = []
        if layer is not None and self.channel is not None:
            subscribed.append((layer, self.channel))
        if pushes is not None and pushes is not layer and self.push_channel is not None:
            subscribed.append((pushes, self.push_channel))
        return subscribed

    async def leave(self, scenario_id: int, socket) -> None:
        sockets = self.sockets.get(scenario_id)
        if sockets is None:
            return
        sockets.discard(socket)
        if not sockets:
            del self.sockets[scenario_id]
            self.last_seq.pop(scenario_id, None)
            for layer, channel in self._subscriptions():
                try:
                    await layer.group_discard(group_name(scenario_id), channel)
                    if scenario_id in self.sockets:
                        # A socket joined the board while this one left (a page reloaded): its
                        # group_add may have gone through before this group_discard. Join again,
                        # or pushes from the other processes would no longer reach it.
                        await layer.group_add(group_name(scenario_id), channel)
                except Exception:  # noqa: BLE001 - the layer is down; the group expires on its own
                    logger.warning("Could not leave %s", group_name(scenario_id))

    def caught_up(self, scenario_id: int, seq: int) -> None:
        """A socket on the board has been sent everything up to `seq` from the database. Until
        the hub has handed the board a push, that is where it stands: a sweep can then tell that
        a later push never came. Of two sockets' catch-ups the lower counts (the other socket
        drops what it has had already)."""
        if scenario_id in self.sockets:
            self.last_seq[scenario_id] = min(self.last_seq.get(scenario_id, seq), seq)

    async def sweep(self, seen: dict[int, int]) -> dict[int, int]:
        """Compare the boards' seqs with those read at the previous sweep (`seen`): a board still
        short of the seq it had then gets what it missed from the database. Returns this sweep's
        seqs, for the next one. A push merely on its way (committed since the previous sweep) is
        left to come, and one sent from the database first is dropped when it comes."""
        boards = [b for b in self.sockets if b in self.last_seq]
        if not boards:
            return {}
        now = await database_sync_to_async(board_seqs)(boards)
        for scenario_id in boards:
            if seen.get(scenario_id, 0) > self.last_seq.get(scenario_id, math.inf):
                self.offer({"type": FILL_TYPE, "scenario": scenario_id})
        return now

    async def _sweep_every(self, seconds: float) -> None:
        seen: dict[int, int] = {}
        while True:
            await asyncio.sleep(seconds)
            try:
                seen = await self.sweep(seen)
            except Exception:  # noqa: BLE001 - the database is down: try again at the next sweep
                logger.warning("Could not compare this process's boards with the database")
                seen = {}

    def offer(self, message: dict) -> None:
        """Take a push (on the hub's event loop); the sender sends it as soon as it is free."""
        self.inbox.append(message)
        if self.waiting is not None:
            self.waiting.set()

    def presence_changed(self, scenario_id: int) -> None:
        """Someone came to the board or left it (on any process): push who is on it now to this
        process's sockets. The first change pushes at once; the changes of the next
        PRESENCE_WINDOW_SECONDS wait and go out together at its end (a room of 200 joining within
        seconds would otherwise send the whole list to everyone 200 times over). Every list is
        read after the change that asked for it, and the lists go out in the order they were read,
        so the last one out is the newest."""
        if scenario_id not in self.sockets:
            return
        if scenario_id in self.presence_waiting:
            self.presence_waiting[scenario_id] = True
            return
        self._read_presence(scenario_id)

    def _read_presence(self, scenario_id: int) -> None:
        self.presence_waiting[scenario_id] = False
        loop = asyncio.get_running_loop()
        loop.call_later(_presence_window(), self._presence_window_ends, scenario_id)
        task = loop.create_task(self._push_presence(scenario_id, self.presence_reading.get(scenario_id)))
        task.add_done_callback(_log_failure)
        task.add_done_callback(lambda done: self._presence_read(scenario_id, done))
        self.presence_reading[scenario_id] = task

    def _presence_read(self, scenario_id: int, task: asyncio.Task) -> None:
        if self.presence_reading.get(scenario_id) is task:
            del self.presence_reading[scenario_id]

    def _presence_window_ends(self, scenario_id: int) -> None:
        if self.presence_waiting.pop(scenario_id, False) and scenario_id in self.sockets:
            self._read_presence(scenario_id)

    async def _push_presence(self, scenario_id: int, after: asyncio.Task | None) -> None:
        from django.template.loader import render_to_string

        from boards import presence

        if after is not None:
            await asyncio.wait([after])
        people = await presence.register.people(scenario_id)
        html = render_to_string("boards/board.html#presence", {"oob": True, "present": people})
        self.offer({"type": PUSH_TYPE, "scenario": scenario_id, "seq": 0, "html": html})

    async def _in_order(self, message: dict) -> list[dict]:
        """Board pushes in seq order. Two processes, or two request threads, may commit seqs N and
        N+1 and their pushes reach the hub the other way round: on a gap, read the missing events
        from the database (they are committed: N+1 was numbered after N's commit) and send them
        first."""
        scenario_id, seq = message.get("scenario"), message.get("seq")
        if message.get("type") == FILL_TYPE:
            return await self._fill(scenario_id)
        if not seq:
            return [message]
        last = self.last_seq.get(scenario_id)
        if last is not None and seq <= last:
            return []  # sent already, filled in from the database
        ordered = []
        if last is not None and seq > last + 1:
            from django.conf import settings

            rows = await database_sync_to_async(missed_events)(scenario_id, last, settings.BOARD_REPLAY_LIMIT)
            for row_seq, html in rows or []:
                if row_seq < seq:
                    ordered.append({"type": PUSH_TYPE, "scenario": scenario_id, "seq": row_seq, "html": html})
        ordered.append(message)
        self.last_seq[scenario_id] = seq
        return ordered

    async def _fill(self, scenario_id: int) -> list[dict]:
        """Every push of the board after the last one the hub sent, from the database."""
        from django.conf import settings

        last = self.last_seq.get(scenario_id)
        if last is None:
            return []
        rows = await database_sync_to_async(missed_events)(scenario_id, last, settings.BOARD_REPLAY_LIMIT)
        if rows is None:
            raise LookupError(f"board {scenario_id} is too far behind to replay")
        if rows:
            self.last_seq[scenario_id] = rows[-1][0]
        return [{"type": PUSH_TYPE, "scenario": scenario_id, "seq": seq, "html": html} for seq, html in rows]

    async def _send(self) -> None:
        assert self.waiting is not None
        while True:
            await self.waiting.wait()
            self.waiting.clear()
            messages, self.inbox = self.inbox, []
            ordered: list[dict] = []
            for message in messages:
                scenario_id = message.get("scenario")
                if scenario_id not in self.sockets:
                    continue  # nobody here to send it to
                try:
                    ordered.extend(await self._in_order(message))
                except Exception:  # noqa: BLE001 - the database failed while filling a gap
                    logger.exception("Could not put board %s's pushes in order; its sockets reconnect", scenario_id)
                    await self._restart(scenario_id)
            for scenario_id, frame in frames(ordered):
                await self._deliver(scenario_id, frame)

    async def _restart(self, scenario_id: int) -> None:
        """Close a board's sockets with 1012: their pages reconnect and catch up by seq."""
        sockets = self.sockets.pop(scenario_id, set())
        self.last_seq.pop(scenario_id, None)
        self._close(sockets)

    def _close(self, sockets) -> None:
        """Close sockets with 1012, each on its own: a client that reads nothing holds up its own
        close, not the hub's sends to everyone else."""
        loop = asyncio.get_running_loop()
        for socket in sockets:
            task = loop.create_task(socket.close(code=self.CLOSE_RESTART))
            self.closing.add(task)
            task.add_done_callback(self.closing.discard)
            task.add_done_callback(_gone_already)

    async def _deliver(self, scenario_id: int, frame: Frame) -> None:
        for socket in list(self.sockets.get(scenario_id, ())):
            try:
                await socket.deliver(frame)
            except Exception as exc:  # noqa: BLE001 - one broken socket must not stop the others
                # Mostly a page that just went away: one line, the traceback only when debugging.
                logger.warning("Could not push to a board socket (%s: %s)", type(exc).__name__, exc)
                logger.debug("Could not push to a board socket", exc_info=True)

    async def _listen(self, layer, channel: str) -> None:
        try:
            while True:
                message = await layer.receive(channel)
                if message.get("origin") == ORIGIN:
                    continue  # this process's own: offered, or handled, directly
                if message.get("type") == PRESENCE_TYPE:
                    self.presence_changed(message["scenario"])
                else:
                    self.offer(message)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the layer failed: drop our sockets, they will come back
            logger.exception("Channel layer failed; closing this process's board sockets")
            sockets = [s for group in self.sockets.values() for s in group]
            boards, self.sockets, self.last_seq = list(self.sockets), {}, {}
            self._close(sockets)
            if layer is not _push_layer() and self.push_channel is not None:
                # The pub/sub channel lives on: take it out of the groups of the boards dropped.
                task = asyncio.get_running_loop().create_task(self._forget(boards, self.push_channel))
                self.closing.add(task)
                task.add_done_callback(self.closing.discard)

    async def _forget(self, boards: list[int], channel: str) -> None:
        pushes = _push_layer()
        async with self.joining:  # a page coming back meanwhile joins after this
            for scenario_id in boards:
                if scenario_id in self.sockets:
                    continue  # a page is back already
                try:
                    await pushes.group_discard(group_name(scenario_id), channel)
                except Exception:  # noqa: BLE001 - Redis is down: it forgets the subscriptions itself
                    logger.warning("Could not leave %s", group_name(scenario_id))


def _gone_already(task: asyncio.Task) -> None:
    """A close that failed found its socket gone already: nothing to do (reading the exception
    keeps asyncio from reporting it as never retrieved)."""
    if not task.cancelled():
        task.exception()


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


def hub() -> Hub:
    """This process's hub (one per event loop: a server has one, tests may have several)."""
    loop = asyncio.get_running_loop()
    if loop not in _hubs:
        for old in [old for old in _hubs if old.is_closed()]:
            del _hubs[old]
        _hubs[loop] = Hub()
    return _hubs[loop]


async def subscribe(channel_name: str, *groups: str) -> None:
    layer = get_channel_layer()
    for group in groups:
        await layer.group_add(group, channel_name)


async def unsubscribe(channel_name: str, *groups: str) -> None:
    layer = get_channel_layer()
    for group in groups:
        await layer.group_discard(group, channel_name)


def catch_up(scenario_id: int, since: int | None, member=None) -> tuple[list[str], int]:
    """What a (re)connecting client needs: the events it missed, in order, or a fresh board;
    then the member's private state (their dots, their private notes), which has no seq.

    Pushes are whole fragments (state, not deltas), so one applied twice changes nothing.
    """
    from boards import render

    messages, last_seq = _board_catch_up(scenario_id, since)
    if member is not None:
        messages.append(render.private_panel(Scenario.objects.get(pk=scenario_id), member))
    return messages, last_seq


def _board_catch_up(scenario_id: int, since: int | None) -> tuple[list[str], int]:
    from django.conf import settings

    from boards import render

    last_seq = Scenario.objects.values_list("last_seq", flat=True).get(pk=scenario_id)
    if since is not None and since == last_seq:
        return [], last_seq
    if since is not None and 0 <= since < last_seq:
        rows = missed_events(scenario_id, since, settings.BOARD_REPLAY_LIMIT)
        if rows is not None:
            return [html for _, html in rows], rows[-1][0]
    # Too far behind, ahead of the server (a restored database), or no seq: start afresh.
    # last_seq is read before rendering, so the board is at least that new.
    scenario = Scenario.objects.select_related("workshop").get(pk=scenario_id)
    scenario.last_seq = last_seq
    return [seq_marker(last_seq, reset=True) + render.whole_board(scenario)], last_seq


async def presence_changed(scenario_id: int) -> None:
    """Someone came to the board or left it, on this process. Each process with sockets on the
    board reads who is present from the register itself, and pushes the list to its own sockets:
    this process's hub at once, the other processes' through the channel layer. A list read by one
    process and carried to another could arrive there after a newer list read there, and stay:
    the people shown would be wrong until someone else came or went."""
    hub().presence_changed(scenario_id)
    layer = _shared_layer()
    if layer is None:
        return
    message = {"type": PRESENCE_TYPE, "scenario": scenario_id, "origin": ORIGIN}
    try:
        await layer.group_send(group_name(scenario_id), message)
    except Exception:  # noqa: BLE001 - the layer is down: this process's sockets are being closed
        logger.warning("Could not tell the other processes that %s's people changed", group_name(scenario_id))


def _sweep_seconds() -> float:
    from django.conf import settings

    return settings.HUB_SWEEP_SECONDS


def _presence_window() -> float:
    from django.conf import settings

    return settings.PRESENCE_WINDOW_SECONDS


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("Could not push presence", exc_info=task.exception())
