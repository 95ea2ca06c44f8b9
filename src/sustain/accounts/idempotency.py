"""Idempotency keys for API writes: the same key and request apply once, answer the same."""

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest

from sustain.accounts.models import IdempotencyRecord, User
from sustain_core.errors import ClinicalValueError

MAX_KEY_LENGTH = 100


class KeyReused(ClinicalValueError):
    """The key was used before for a different request."""


def fingerprint(request: HttpRequest, body: bytes | None = None) -> str:
    return hashlib.sha256(
        (request.method or "").encode()
        + b" "
        + request.path.encode()
        + b"\n"
        + (request.body if body is None else body)
    ).hexdigest()


def once(
    request: HttpRequest,
    user: User,
    run: Callable[[], tuple[int, dict[str, Any]]],
    *,
    now: dt.datetime,
    body_for_key: bytes | None = None,
) -> tuple[int, dict[str, Any]]:
    """Run `run` once per Idempotency-Key (header); without a key, just run it.

    The same key with the same request replays the stored answer; with another request it is
    refused (KeyReused). The request is its method, path and body, or `body_for_key` in place
    of the raw body when that holds a secret (a witness's password), so no digest of a secret
    is stored.

    The record is inserted in the same transaction as the write, first: a concurrent retry
    waits on the unique index (PostgreSQL) or the write lock (SQLite), then finds the stored
    answer. A failed write stores nothing, so the key can be retried.
    """
    key = request.headers.get("Idempotency-Key", "")
    if not key:
        return run()
    if len(key) > MAX_KEY_LENGTH:
        raise ClinicalValueError("Idempotency-Key", f"at most {MAX_KEY_LENGTH} characters")
    digest = fingerprint(request, body_for_key)
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                user=user, key=key, fingerprint=digest, status_code=0, response={},
                created_at=now,
            )  # fmt: skip
            status, body = run()
            record.status_code, record.response = status, body
            record.save(update_fields=["status_code", "response"])
            return status, body
    except IntegrityError:
        stored = IdempotencyRecord.objects.filter(user=user, key=key).first()
        if stored is None:  # the unique index was not what failed
            raise
    if stored.fingerprint != digest:
        raise KeyReused("Idempotency-Key", "this key was already used for a different request")
    return stored.status_code, stored.response
