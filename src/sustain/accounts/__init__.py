"""Staff accounts, sites, roles, sign-in and the audit trail (the lowest Django app)."""

from sustain.accounts.addresses import client_address

__all__ = ["client_address"]
