"""Command side of integrations: connections, and the sync of what providers tell Cairn."""
