"""Shared argument parsing for the protocol commands (not a command itself)."""

from django.core.management.base import CommandError

from sustain_core import protocols
from sustain_core.errors import ClinicalValueError


def library_protocol(text: str) -> protocols.Protocol:
    """ "key@version", or "key" for its newest library version."""
    key, _, version = text.partition("@")
    try:
        if version:
            return protocols.get_protocol(key, int(version))
        return max(
            (p for (k, _), p in protocols.PROTOCOLS.items() if k == key), key=lambda p: p.version
        )
    except (ClinicalValueError, ValueError):
        known = ", ".join(sorted({k for k, _ in protocols.PROTOCOLS}))
        raise CommandError(f"unknown protocol {text!r}; known: {known}", returncode=2) from None
