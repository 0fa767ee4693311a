"""Cairn's domain: aggregates, value objects, domain errors and the pure policy model."""
