"""Every projector Cairn runs, by name."""

from __future__ import annotations

from projections.directory.security_events import SecurityEvents
from projections.directory.users import DirectoryUsers
from projections.errors import UnknownProjector
from projections.projector import Projector
from projections.runs import Runs

PROJECTORS: dict[str, type[Projector]] = {
    cls.name: cls for cls in (DirectoryUsers, SecurityEvents, Runs)
}


def get(name: str) -> type[Projector]:
    try:
        return PROJECTORS[name]
    except KeyError:
        known = ", ".join(sorted(PROJECTORS))
        raise UnknownProjector(
            f"no projector named {name!r} (known: {known})", {"projector": name}
        ) from None


def select(name: str) -> list[type[Projector]]:
    """`all` or one name."""
    return list(PROJECTORS.values()) if name == "all" else [get(name)]
