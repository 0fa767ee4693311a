"""Annotated dependency aliases: routes name what they need, the lifespan decides what it is."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from adapters.health import Probe


def get_probes(request: Request) -> dict[str, Probe]:
    probes: dict[str, Probe] = request.app.state.probes
    return probes


Probes = Annotated[dict[str, Probe], Depends(get_probes)]
