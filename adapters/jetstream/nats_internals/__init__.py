"""Everything of the event store that relies on nats-py's private API (nats-py 2.16).

nats-py's public API is too slow for the event store's hot paths (decisions 0004 and 0006):
appends write prebuilt protocol bytes (``raw``), bulk reads take their replies before nats-py
dispatches them (``inbound``). Nothing outside this package touches a name of nats-py that
starts with an underscore. What is relied on, and what checks it
(tests/unit/adapters/jetstream/nats_internals/test_pins.py, which names whatever is gone):

- ``Client._pending`` and ``Client._pending_data_size`` (the bytes queued for the socket),
  ``Client._transport.writelines`` and ``Client._flush_queue``: raw bytes join nats-py's
  pending buffer and are written at the end of the loop pass (``raw``, decision 0066);
- ``Subscription._id``: a subscription's sid, which routes consumer deliveries (``raw``);
- ``Msg._client``: the connection field a ``Msg`` is constructed with (``raw``);
- ``Client._process_msg(sid, subject, reply, data, headers)``, ``Client._ps`` (the protocol
  parser: ``buf``, ``state``, ``parse(data)``), ``nats.protocol.parser.AWAITING_CONTROL_LINE``,
  and that ``Client._read_loop`` calls ``self._ps.parse(...)`` with each chunk received
  (``inbound``);
- ``Client._transport``, nats-py's ``TcpTransport._io_reader`` (an ``asyncio.StreamReader``),
  its ``_buffer`` and ``feed_data``, which ``StreamReaderProtocol.data_received`` calls with
  each chunk (``received``, decision 0066).

pyproject.toml pins nats-py to the minor version these were checked on: widen the pin only
after the pinning test passed on the new version.
"""

from adapters.jetstream.nats_internals.inbound import Routes, install
from adapters.jetstream.nats_internals.raw import message, send, sid_of, write, writer_of

__all__ = ["Routes", "install", "message", "send", "sid_of", "write", "writer_of"]
