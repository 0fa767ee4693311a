"""Redis writes whose reply nobody waits for: `CLIENT REPLY SKIP` and the write, in one send.

For a write whose outcome cannot change anything the caller does next (an idempotency
record's answer, kept after the command was applied: a failure is ignored either way), the
reply is only a round trip: a wait, a wake-up and a parse, which cost the API more CPU than
the write itself (decision 0057). Redis runs the commands of a connection in order, so the
write is applied before whatever the next user of the connection sends.

The write goes on a pooled connection, checked out as every command's is: the pool's check
finds a connection the server closed (a Redis restart) and reconnects before anything is sent.
A server that refuses `CLIENT REPLY` (a proxy in front of Redis) is found by the first write,
which also reads a `PING`'s reply: from then on the writes wait for their replies.
"""

from __future__ import annotations

from typing import Any

import redis

_SKIP = ("CLIENT", "REPLY", "SKIP")


class UnansweredWrites:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.skips: bool | None = None  # whether the server skips replies; None: not known yet

    def set(self, key: str, value: str, ex: int) -> None:
        """`SET key value EX ex`, without waiting for its reply (RedisError if it could not
        be sent)."""
        if self.skips is False:
            self.client.set(key, value, ex=ex)
            return
        pool = self.client.connection_pool
        connection: Any = pool.get_connection()  # redis-py leaves its methods untyped
        try:
            commands: list[tuple[Any, ...]] = [_SKIP, ("SET", key, value, "EX", ex)]
            if self.skips is None:
                self.skips = _probe(connection, commands)
            else:
                connection.send_packed_command(connection.pack_commands(commands))
        except BaseException:
            connection.disconnect()  # what was sent is unknown: no one else gets its replies
            raise
        finally:
            pool.release(connection)


def _probe(connection: Any, commands: list[tuple[Any, ...]]) -> bool:
    """Send `commands` and a PING, and read what comes back: the PING's reply alone when the
    server skipped the write's; else the refusal of `CLIENT REPLY`, the write's and the
    PING's (all read, so the connection goes back to the pool clean)."""
    connection.send_packed_command(connection.pack_commands([*commands, ("PING",)]))
    try:
        connection.read_response()
    except redis.ResponseError:
        connection.read_response()
        connection.read_response()
        return False
    return True
