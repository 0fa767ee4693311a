"""Errors of the read side, in the domain error family (so the API maps them in one place)."""

from __future__ import annotations

from domain.errors import Conflict, InvalidInput, InvalidTransition, NotFound, Unavailable


class ProjectionBehind(Conflict):
    """A query asked for `?after=<position>` and the view did not reach it in time (409)."""

    code = "projection_behind"


class ProjectionNotBuilt(Unavailable):
    """The view has never been built: its projector has not run yet (503)."""

    code = "projection_not_built"


class UnknownProjector(NotFound):
    code = "unknown_projector"


class SchemaMissing(Unavailable):
    """The projector's view schema for its version is not in the database: migrate first."""

    code = "projection_schema_missing"


class BuildInProgress(Conflict):
    code = "projection_build_in_progress"


class ProjectorStopped(InvalidTransition):
    """A build holds aggregates back behind parked events (stop mode), so it is not switched
    to; `retry` after fixing the cause (or `--skip`), then `rebuild --resume`."""

    code = "projector_stopped"


class SourceMismatch(InvalidTransition):
    """The view was built from another event store (stream) than the one configured."""

    code = "projection_source_mismatch"


class PositionBeyondStore(InvalidInput):
    """A query's `?after=` names a position the event store has never handed out (400): it
    could never be reached, so it is refused at once instead of waited for."""

    code = "position_beyond_store"
