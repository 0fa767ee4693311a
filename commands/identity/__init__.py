"""Identity commands: sign-up, invitations, passkey login, sessions, devices, capabilities."""
