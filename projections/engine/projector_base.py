"""What a projector declares: name, version, the events it consumes, its view tables and the
handlers that turn one event into SQL statements.

Handlers never commit and never talk to the database themselves: they append statements to
the batch's `Writes`, which the runner executes in order, pipelined, in the one transaction
that also records the tracking position (the library's projection pattern, batched).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Literal, Protocol, TypeVar

from eventsourcing.utils import get_topic

OnError = Literal["stop", "skip"]
Params = Sequence[Any] | Mapping[str, Any]
Statement = tuple[str, Params, bool]  # query, parameters or row, is a bulk row
MERGED = "-- merged part"  # the query of a `Writes.merge` part (its parameters are the part)

NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
_TOPICS_ATTR = "__cairn_topics__"

F = TypeVar("F", bound=Callable[..., None])


def physical_table(table: str, generation: int) -> str:
    """The table of one generation: `directory_users` -> `directory_users__g3`."""
    return f"{table}__g{generation}"


def tracking_name(projector: str, generation: int) -> str:
    """The tracking row (the library's `application_name`) of one generation."""
    return f"{projector}@g{generation}"


def handles(*events: type | str) -> Callable[[F], F]:
    """Mark a method as the handler of these event classes (`@handles(Run.EscalationApproved)`).
    Events are dispatched once, by the topic the store records (the class's topic); a topic
    string names an event no class here stands for (a test's, a retired one's)."""
    topics = tuple(e if isinstance(e, str) else get_topic(e) for e in events)

    def mark(method: F) -> F:
        setattr(method, _TOPICS_ATTR, topics)
        return method

    return mark


class Mergeable(Protocol):
    """One event's change to the rows of one key (a run), which may be written together with
    the other changes of that key in the batch (`Writes.merge`)."""

    @property
    def merge_key(self) -> Hashable: ...

    def merged(self, parts: Sequence[Any]) -> list[tuple[str, Params]]:
        """The statements that make the changes `parts` (of this key, in order; this one is
        the first), as few as may be."""
        ...


class Writes:
    """The statements of one batch, in order. `bulk` rows of consecutive events go to the
    database as one statement: far less work per row than an INSERT each (PostgreSQL refuses
    COPY into tables with row-level security)."""

    __slots__ = ("statements",)

    def __init__(self) -> None:
        self.statements: list[Statement] = []

    def execute(self, query: str, params: Params = ()) -> None:
        self.statements.append((query, params, False))

    def bulk(self, query: str, row: Sequence[Any]) -> None:
        """One row for `INSERT INTO <table> (<columns>) SELECT * FROM unnest(%s::<type>[], ...)`
        (one array parameter per column; not for array columns)."""
        self.statements.append((query, row, True))

    def merge(self, part: Mergeable) -> None:
        """A change that is written together with the batch's other changes of the same key:
        the projector's statements per event stay apart (a refused batch is applied again
        event by event), and the batch sends what `merged` makes of them, where the key's
        first change was. A part must touch only its key's rows, so that the changes of
        different keys and the other statements may be written in any order."""
        self.statements.append((MERGED, part, False))  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self.statements)

    def _merged(self) -> list[Statement]:
        statements = self.statements
        groups: dict[Hashable, list[Any]] = {}
        for query, part, _ in statements:
            if query == MERGED:
                groups.setdefault(part.merge_key, []).append(part)  # type: ignore[union-attr]
        if not groups:
            return statements
        out: list[Statement] = []
        for statement in statements:
            if statement[0] != MERGED:
                out.append(statement)
                continue
            parts = groups.pop(statement[1].merge_key, None)  # type: ignore[union-attr]
            if parts is not None:  # the key's first part: all of its changes, here
                out.extend((query, params, False) for query, params in parts[0].merged(parts))
        return out

    def runs(self) -> Iterator[tuple[str, bool, list[Statement]]]:
        """Consecutive statements of the same query (the same object: handlers pass the
        cached `Projector.sql`), in order: each run goes to the database as one execution.
        Merged parts are made into their statements first."""
        statements = self._merged()
        i = 0
        while i < len(statements):
            query, _, is_bulk = statements[i]
            j = i + 1
            while j < len(statements) and statements[j][0] is query:
                j += 1
            yield query, is_bulk, statements[i:j]
            i = j

    def truncate(self, length: int) -> None:
        del self.statements[length:]


class Projector:
    """Subclass with `name`, `tables` and `@handles(EventClass)` methods.

    `version` names the view schema (a `projection_schemas` row written by a migration, or
    `schema_sql` in code); bump it when the DDL or the meaning of the handlers changes, and the
    worker builds the new version beside the old one, then switches.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1
    tables: ClassVar[tuple[str, ...]]
    # What to do when a handler raises: park the event and stop, or park it and go on.
    on_error: ClassVar[OnError] = "stop"
    # The DDL template in code instead of a migration (tests, benchmarks).
    schema_sql: ClassVar[str | None] = None
    topics: ClassVar[frozenset[str]] = frozenset()
    _handlers: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                for topic in getattr(value, _TOPICS_ATTR, ()):
                    handlers[topic] = attr
        cls._handlers = handlers
        cls.topics = frozenset(handlers)
        name = cls.__dict__.get("name")
        if name is not None and not NAME.match(name):
            raise ValueError(f"projector name {name!r} must match {NAME.pattern}")
        for table in cls.__dict__.get("tables", ()):
            if not NAME.match(table):
                raise ValueError(f"view table {table!r} must match {NAME.pattern}")

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.physical: dict[str, str] = {t: physical_table(t, generation) for t in self.tables}
        self._sql: dict[str, str] = {}

    @property
    def tracking_name(self) -> str:
        return tracking_name(self.name, self.generation)

    def expand(self, template: str) -> str:
        """Replace `{table}` with this generation's table; other braces are left alone."""

        def replace(match: re.Match[str]) -> str:
            return self.physical.get(match.group(1), match.group(0))

        return _PLACEHOLDER.sub(replace, template)

    def sql(self, template: str) -> str:
        """`expand`, cached: handlers call it for every event."""
        query = self._sql.get(template)
        if query is None:
            query = self._sql[template] = self.expand(template)
        return query

    def handle(self, topic: str, event: Any, position: int, writes: Writes) -> None:
        handler: Callable[[Any, int, Writes], None] = getattr(self, self._handlers[topic])
        handler(event, position, writes)
