"""Who is on a board now: one entry per person, however many tabs they have open.

Connections register here while their websocket is open. The embedded default keeps the
register in the process; with REDIS_URL it lives in Redis so every server process sees
every connection. Entries expire unless refreshed by the client's heartbeat, so a server
that dies does not leave ghosts behind.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass

from django.conf import settings

from workshops.models import BusinessFunction, Membership, Role

TTL_SECONDS = 75


@dataclass(frozen=True)
class Person:
    member_id: int
    name: str
    role: str
    function: str

    @property
    def role_label(self) -> str:
        return Role(self.role).label

    @property
    def function_label(self) -> str:
        return BusinessFunction(self.function).label

    @property
    def initials(self) -> str:
        # The first letter or digit of the first two words that have one: "Nadia (boutique)" is NB.
        firsts = [next((c for c in word if c.isalnum()), "") for word in self.name.split()]
        return "".join([c for c in firsts if c][:2]).upper() or "?"

    @classmethod
    def of(cls, m: Membership) -> Person:
        return cls(m.pk, m.name, m.role, m.business_function)


def _people(entries: list[Person]) -> list[Person]:
    unique = {p.member_id: p for p in entries}
    return sorted(unique.values(), key=lambda p: (p.role != Role.FACILITATOR, p.name.lower()))


class LocalRegister:
    def __init__(self) -> None:
        self._boards: dict[int, dict[str, tuple[Person, float]]] = {}

    async def join(self, scenario_id: int, channel: str, person: Person) -> None:
        self._boards.setdefault(scenario_id, {})[channel] = (person, time.monotonic() + TTL_SECONDS)

    async def touch(self, scenario_id: int, channel: str) -> None:
        entry = self._boards.get(scenario_id, {}).get(channel)
        if entry:
            self._boards[scenario_id][channel] = (entry[0], time.monotonic() + TTL_SECONDS)

    async def leave(self, scenario_id: int, channel: str) -> None:
        self._boards.get(scenario_id, {}).pop(channel, None)

    async def people(self, scenario_id: int) -> list[Person]:
        now = time.monotonic()
        board = self._boards.get(scenario_id, {})
        for channel in [c for c, (_, exp) in board.items() if exp < now]:
            del board[channel]
        return _people([p for p, _ in board.values()])


class RedisRegister:
    def __init__(self, url: str) -> None:
        self._url = url
        self._clients: dict[asyncio.AbstractEventLoop, object] = {}

    def _client(self):
        import redis.asyncio as redis

        loop = asyncio.get_running_loop()
        if loop not in self._clients:
            self._clients[loop] = redis.from_url(self._url)
        return self._clients[loop]

    @staticmethod
    def _key(scenario_id: int) -> str:
        return f"journeymap:presence:{scenario_id}"

    async def join(self, scenario_id: int, channel: str, person: Person) -> None:
        value = json.dumps({"p": asdict(person), "exp": time.time() + TTL_SECONDS})
        await self._client().hset(self._key(scenario_id), channel, value)

    async def touch(self, scenario_id: int, channel: str) -> None:
        raw = await self._client().hget(self._key(scenario_id), channel)
        if raw:
            entry = json.loads(raw)
            entry["exp"] = time.time() + TTL_SECONDS
            await self._client().hset(self._key(scenario_id), channel, json.dumps(entry))

    async def leave(self, scenario_id: int, channel: str) -> None:
        await self._client().hdel(self._key(scenario_id), channel)

    async def people(self, scenario_id: int) -> list[Person]:
        client = self._client()
        entries = await client.hgetall(self._key(scenario_id))
        now, alive, dead = time.time(), [], []
        for channel, raw in entries.items():
            entry = json.loads(raw)
            if entry["exp"] < now:
                dead.append(channel)
            else:
                alive.append(Person(**entry["p"]))
        if dead:
            await client.hdel(self._key(scenario_id), *dead)
        return _people(alive)


register = RedisRegister(settings.REDIS_URL) if settings.REDIS_URL else LocalRegister()
