"""The server side's processes, composed: `cairn up`, the run worker, the projectors,
migrations, vault rotation and audit export. Unlike `clients/`, which speaks only HTTP, this
package may import every layer (see docs/decisions/0014-entrypoints-outside-clients.md)."""
