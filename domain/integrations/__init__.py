"""Connected accounts (a person's grant at an OAuth provider, as an aggregate) and what Cairn
learns from them (calendars, mail)."""
