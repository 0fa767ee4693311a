"""Connected accounts and what Cairn learns from them (calendars, mail)."""
