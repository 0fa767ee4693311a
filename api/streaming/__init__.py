"""Push subscriptions on the wire: Server-Sent Events and WebSocket messages (docs/push.md)."""
