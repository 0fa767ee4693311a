"""Projectors (event -> view rows + tracking, one transaction), view schemas, queries."""
