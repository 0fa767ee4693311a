"""Connected accounts and the provider APIs Cairn acts through (docs/integrations.md)."""
