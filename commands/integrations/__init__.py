"""Connected accounts: connect (OAuth 2.0 + PKCE), refresh records, keep-alive, disconnect."""
