"""Every projector Cairn runs, by name: those the view folders (projections/views/<view>/)
name in their package's `PROJECTORS`, in folder order."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from projections.engine.errors import UnknownProjector
from projections.engine.projector_base import Projector

VIEWS_PACKAGE = "projections.views"


def discover(package: str = VIEWS_PACKAGE) -> dict[str, type[Projector]]:
    """The projectors of every view folder under `package`; a name used twice is refused."""
    views: ModuleType = importlib.import_module(package)
    found: dict[str, type[Projector]] = {}
    for view in sorted(pkgutil.iter_modules(views.__path__), key=lambda m: m.name):
        if not view.ispkg:
            continue
        module = importlib.import_module(f"{package}.{view.name}")
        for cls in getattr(module, "PROJECTORS", ()):
            if not (isinstance(cls, type) and issubclass(cls, Projector)):
                raise TypeError(f"{module.__name__}.PROJECTORS holds {cls!r}, not a Projector")
            if cls.name in found:
                raise ValueError(f"two projectors are named {cls.name!r} ({module.__name__})")
            found[cls.name] = cls
    return found


PROJECTORS: dict[str, type[Projector]] = discover()


def get(name: str) -> type[Projector]:
    try:
        return PROJECTORS[name]
    except KeyError:
        known = ", ".join(sorted(PROJECTORS))
        raise UnknownProjector(
            f"no projector named {name!r} (known: {known})", {"projector": name}
        ) from None


def select(*names: str) -> list[type[Projector]]:
    """`all`, or projector names (each once, in the order given)."""
    if "all" in names:
        return list(PROJECTORS.values())
    return [get(name) for name in dict.fromkeys(names)]
