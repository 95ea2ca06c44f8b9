"""Signed, single-use links for patients (self-report links, visit replies in reminders).

A link's token is `<row id>.<nonce>` signed with the secret key (django.core.signing) under a
salt of its own kind, so a token of one kind never opens another. The database keeps only the
nonce's SHA-256, so a copy of the database opens no link.
"""

import hashlib
import hmac
import secrets

from django.core import signing


class BadLink(Exception):
    """The token was not signed by us, or does not have the shape `<id>.<nonce>`."""


def nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def new_nonce() -> tuple[str, str]:
    """A fresh nonce and the hash to store for it."""
    nonce = secrets.token_urlsafe(24)
    return nonce, nonce_hash(nonce)


def sign(salt: str, row_id: int, nonce: str) -> str:
    return signing.Signer(salt=salt).sign(f"{row_id}.{nonce}")


def unsign(salt: str, token: str) -> tuple[int, str]:
    """The row id and nonce of a token, or BadLink."""
    try:
        row_id, nonce = signing.Signer(salt=salt).unsign(token).split(".", 1)
        return int(row_id), nonce
    except (signing.BadSignature, ValueError):
        raise BadLink from None


def matches(stored_hash: str, nonce: str) -> bool:
    return hmac.compare_digest(stored_hash, nonce_hash(nonce))
