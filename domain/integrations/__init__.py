"""Connected accounts: a person's grant at an OAuth provider, as an aggregate."""
