-- The scopes every access token of a session carries (domain/identity/scopes.py). Sessions
-- that exist already were all opened by a person's passkey login: first-party scopes.
ALTER TABLE sessions ADD COLUMN scopes text NOT NULL DEFAULT 'api autonomy:write';
