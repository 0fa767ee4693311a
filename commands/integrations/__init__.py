"""Command side of integrations: connected accounts (connect with OAuth 2.0 + PKCE, refresh
records, keep-alive, disconnect) and the sync of what providers tell Cairn."""
