"""`cairn` for people: sign in with the device grant, state intents, follow and answer runs.
Built on the SDK (clients/sdk) only: it speaks the HTTP API like any other client."""
