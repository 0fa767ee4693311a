"""Everything that talks to the outside world (event store, databases, services)."""
