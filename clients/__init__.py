"""Clients of the HTTP API (they speak only HTTP): the Python SDK, the people's `cairn`
commands, the push subscriber, the web console. The server's own processes are in
`entrypoints/`."""
