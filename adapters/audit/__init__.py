"""The audit log's I/O: Ed25519 keys, the checkpointer, the witness and the export."""
