"""The first views: the tenant user directory and the security events."""
