"""Helpers shared by tests: fakes and test doubles that are real enough to cross real checks."""
