"""Tenants, users, capabilities, passkeys and devices: who may do what, from where."""
