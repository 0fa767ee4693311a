"""Clients of the HTTP API: the `cairn` CLI, the Python SDK, push subscriber, web console."""
