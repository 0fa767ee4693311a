"""Errors of the JetStream event store, as subclasses of the library's persistence errors."""

from __future__ import annotations

from collections.abc import Sequence

import nats.errors
from eventsourcing.persistence import DataError, IntegrityError, OperationalError

from commands.ports.store import WriteOutcomeUnknown


class EventStoreUnavailable(OperationalError):
    """NATS or JetStream cannot be reached now: nothing was written. Retry later."""

    retryable = True


class EventStoreOutcomeUnknown(EventStoreUnavailable, WriteOutcomeUnknown):
    """The connection failed or timed out after the write was sent: it may have been stored.

    Retry with the same command id (event context ``command_id``) so that the retry can never
    append twice.
    """


class StreamConfigurationError(OperationalError):
    """The stream or the server is configured in a way that could lose or refuse events."""

    retryable = False


class BatchTooLarge(DataError):
    """One save would need more messages than one JetStream atomic batch can hold (1,000)."""


class CommandAlreadyApplied(IntegrityError):
    """The command id was already recorded, with different events than the ones given now.

    ``notification_ids`` are the positions of the events recorded by the first application of
    the command. (A retry with the same events is not an error: it returns these ids.)
    """

    def __init__(self, message: str, command_id: str, notification_ids: Sequence[int]) -> None:
        super().__init__(message)
        self.command_id = command_id
        self.notification_ids = list(notification_ids)


class JetStreamApiError(OperationalError):
    """The JetStream API answered with an error."""

    def __init__(self, description: str, code: int = 0, err_code: int = 0) -> None:
        super().__init__(f"JetStream error {err_code or code}: {description}")
        self.description = description
        self.code = code
        self.err_code = err_code


def direct_get_error(
    stream: str, status: str | None, description: str, what: str = "direct get"
) -> OperationalError:
    """The error of a read answered with a status other than those that end it normally
    (404 none, 204 end of a batch): 503 (no responders) and 408 (timed out) mean the stream
    (or the consumer read) is not available now."""
    if status in ("503", "408"):
        return EventStoreUnavailable(f"JetStream stream {stream} is not available ({status})")
    return JetStreamApiError(f"{what} on {stream} failed: {status} {description}")


def publish_error(error: BaseException) -> Exception:
    """What a failed publish (an append or a request) means to the caller."""
    if isinstance(error, EventStoreUnavailable | DataError):
        return error
    if isinstance(error, nats.errors.MaxPayloadError):
        return DataError("the event is larger than the NATS server's max_payload")
    if isinstance(error, nats.errors.BadHeaderError):
        return DataError(f"invalid NATS header: {error}")
    return EventStoreUnavailable(f"NATS publish failed ({error!r}); nothing was written, retry")
