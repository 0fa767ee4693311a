"""Connected accounts (the OAuth 2.0 client, the token store and the token port) and the
provider APIs Cairn acts through (docs/integrations.md)."""
