"""The audit log's configuration and its read side (checkpoints and proofs)."""
