"""The tamper-evident audit log: Merkle tree, checkpoints, witness rules, export checks."""
