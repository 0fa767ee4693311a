"""OAuth 2.0 with authlib: provider configuration and the authorization-code + PKCE client."""
