"""Ports: the interfaces command handlers receive; adapters implement them."""
