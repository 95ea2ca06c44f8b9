"""Password hashing with a bounded cost (SEC-08; security-reliability-interop.md §7).

Argon2id at the OWASP/ASVS minimum that bounds memory: t=2, m=19456 KiB (19 MiB), p=1, so one
check costs about 19 MiB and tens of milliseconds. And at most SUSTAIN_PASSWORD_CHECKS_AT_ONCE
hashes run at once in a process (a BoundedSemaphore): a burst of sign-ins cannot take all memory
or cores. A check that waits longer than SUSTAIN_PASSWORD_CHECK_WAIT_SECONDS raises
PasswordChecksBusy, which PasswordChecksBusyMiddleware answers with a plain "busy, try again in a
moment" page (503), never a 500.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher


class PasswordChecksBusy(Exception):
    """Too many password checks at once for longer than the wait allows."""


_gates: dict[int, threading.BoundedSemaphore] = {}
_gates_lock = threading.Lock()


def _gate() -> threading.BoundedSemaphore:
    """The process-wide semaphore for the configured number of checks at once."""
    at_once: int = settings.SUSTAIN_PASSWORD_CHECKS_AT_ONCE
    with _gates_lock:
        return _gates.setdefault(at_once, threading.BoundedSemaphore(at_once))


@contextmanager
def one_check() -> Iterator[None]:
    """Hold one of the SUSTAIN_PASSWORD_CHECKS_AT_ONCE places while hashing."""
    gate = _gate()
    if not gate.acquire(timeout=settings.SUSTAIN_PASSWORD_CHECK_WAIT_SECONDS):
        raise PasswordChecksBusy
    try:
        yield
    finally:
        gate.release()


class BoundedArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id, t=2, m=19456 KiB, p=1 (SEC-08), at most N at once. Its algorithm stays
    "argon2", so it verifies (and upgrades at sign-in) hashes made with Django's defaults."""

    time_cost = 2
    memory_cost = 19456
    parallelism = 1

    def encode(self, password: str, salt: str) -> str:
        with one_check():
            return super().encode(password, salt)

    def verify(self, password: str, encoded: str) -> bool:
        with one_check():
            return super().verify(password, encoded)
