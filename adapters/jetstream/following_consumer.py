"""What an ephemeral pull consumer that follows a stream is created and asked with: bodies, no
acks, kept in memory, removed by the server if its process dies. The API's push feed (decision
0052) and the projectors' live reading (decision 0058) both follow the events this way."""

from __future__ import annotations

import json
from typing import Any, Final

_NANOS: Final = 1_000_000_000


def create_request(
    stream: str, name: str, after: int, subject_filter: str, expires: float
) -> bytes:
    """The body of ``$JS.API.CONSUMER.CREATE.<stream>.<name>``: deliveries from the message
    after sequence ``after`` on, of the subjects ``subject_filter`` matches."""
    config: dict[str, Any] = {
        "name": name,
        "deliver_policy": "by_start_sequence",
        "opt_start_seq": after + 1,
        "ack_policy": "none",
        "filter_subject": subject_filter,
        # The server removes it if this process dies without deleting it.
        "inactive_threshold": int(max(30.0, expires * 2) * _NANOS),
        "mem_storage": True,
        "num_replicas": 1,
    }
    return json.dumps({"stream_name": stream, "config": config}).encode()


def pull_request(batch: int, expires: float, idle_heartbeat: float) -> bytes:
    """The body of ``$JS.API.CONSUMER.MSG.NEXT``: up to ``batch`` messages, the request ending
    after ``expires`` seconds, a heartbeat every ``idle_heartbeat`` seconds of silence."""
    request = {
        "batch": batch,
        "expires": int(expires * _NANOS),
        "idle_heartbeat": int(idle_heartbeat * _NANOS),
    }
    return json.dumps(request).encode()
