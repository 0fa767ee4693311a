-- Which resource a session's access tokens are for (decision 0031): the API (`cairn-api`) or
-- the MCP server's URL. A refresh token is redeemed only by the session store of its own
-- audience, so an MCP client's grant never turns into an API token at /v1/auth/refresh.
-- Sessions that exist already were opened by first-party logins: the API.
ALTER TABLE sessions ADD COLUMN audience text NOT NULL DEFAULT 'cairn-api';
