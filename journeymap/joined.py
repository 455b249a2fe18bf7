"""A row and the rows it joins, read in one statement whose SQL is built once per process.

Django compiles a queryset's SQL again on every execution. For the read that opens every change
to a note (the note, its board, workshop and author, and the signed-in user's seat), that
compiling took about a tenth of a scale-out server's CPU at a busy board (py-spy, 200 people at
60 changes/s), more than running the query. `JoinedRead` builds the statement from the models'
metadata the first time, then only runs it: each row becomes model instances through
`Model.from_db`, with the fields' database converters, and each joined instance is cached on the
one it was joined from, as `select_related` leaves them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Model


@dataclass(frozen=True)
class Join:
    """`alias` joins `model` on `on`, SQL in which `{x}` stands for the alias x, and `%s` for a
    parameter. With `parent` and `field`, the instance is cached as `parent.field` (None when no
    row joined: `outer` joins keep the row when nothing matches)."""

    alias: str
    model: type[Model]
    on: str
    outer: bool = False
    parent: str | None = None
    field: str | None = None


class JoinedRead:
    def __init__(self, model: type[Model], alias: str, joins: Sequence[Join], where: str) -> None:
        self.model, self.alias, self.joins, self.where = model, alias, tuple(joins), where
        self._compiled: dict[str, tuple[str, list]] = {}

    def read(self, params: Sequence[Any]) -> dict[str, Model | None] | None:
        """The instances of the first row by alias, or None when no row matches. `params` fill
        the `%s` of the joins' conditions, in order, then those of `where`."""
        sql, layout = self._compiled.get(connection.vendor) or self._compile()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        found: dict[str, Model | None] = {}
        for alias, model, start, names, pk_index, converters in layout:
            values = list(row[start:start + len(names)])
            if values[pk_index] is None:  # an outer join that matched nothing
                found[alias] = None
                continue
            for i, functions, column in converters:
                for convert in functions:
                    values[i] = convert(values[i], column, connection)
            found[alias] = model.from_db(connection.alias, names, values)
        for join in self.joins:
            parent = found[join.parent] if join.parent and join.field else None
            if parent is not None:
                parent._meta.get_field(join.field).set_cached_value(parent, found[join.alias])
        return found

    def _compile(self) -> tuple[str, list]:
        quote = connection.ops.quote_name
        aliases = {alias: quote(alias) for alias in (self.alias, *(j.alias for j in self.joins))}
        columns: list[str] = []
        layout = []
        for alias, model in ((self.alias, self.model), *((j.alias, j.model) for j in self.joins)):
            fields = model._meta.concrete_fields
            converters = []
            for i, f in enumerate(fields):
                column = f.get_col(alias)
                functions = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
                if functions:
                    converters.append((i, functions, column))
            pk_index = next(i for i, f in enumerate(fields) if f.primary_key)
            layout.append((alias, model, len(columns), [f.attname for f in fields], pk_index, converters))
            columns += [f"{aliases[alias]}.{quote(f.column)}" for f in fields]
        sql = f"SELECT {', '.join(columns)} FROM {quote(self.model._meta.db_table)} {aliases[self.alias]}"
        for j in self.joins:
            kind = "LEFT OUTER JOIN" if j.outer else "INNER JOIN"
            sql += f" {kind} {quote(j.model._meta.db_table)} {aliases[j.alias]} ON {j.on.format(**aliases)}"
        sql += f" WHERE {self.where.format(**aliases)}"
        self._compiled[connection.vendor] = sql, layout
        return sql, layout
