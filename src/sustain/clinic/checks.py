"""The deploy check against shared and default accounts (SEC-04): `sustain check --deploy`
(`make deploy-check`, and at every deployment) fails while the database has an active account
that anyone could guess into:

- a demo user name (`sustain demo`'s staff), or any active account whose password is the demo's;
- a user named admin, root, test or demo (any letter case);

and while SUSTAIN_DEMO_WITHOUT_SECOND_FACTOR is on. It reads the database, so it runs against a
migrated one; a database it cannot read is an error too, not a pass.
"""

from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core import checks
from django.db import DatabaseError

from sustain.accounts.models import User
from sustain.clinic.management.commands.demo import DEMO_PASSWORD, STAFF

SHARED_NAMES = frozenset({"admin", "root", "test", "demo"})
DEMO_NAMES = frozenset(username for username, *_ in STAFF)


def _error(msg: str, hint: str, id_: str) -> checks.Error:
    return checks.Error(msg, hint=hint, id=id_)


@checks.register(checks.Tags.security, deploy=True)
def no_shared_or_default_accounts(**kwargs: Any) -> list[checks.CheckMessage]:
    """SEC-04: no active demo, shared or default account; the demo's exemption off."""
    errors: list[checks.CheckMessage] = []
    if settings.SUSTAIN_DEMO_WITHOUT_SECOND_FACTOR:
        errors.append(
            _error(
                "SUSTAIN_DEMO_WITHOUT_SECOND_FACTOR is on: staff sign in without a second factor.",
                "Unset it; it is for `make demo` only.",
                "sustain.E001",
            )
        )
    try:
        active = list(User.objects.filter(is_active=True).only("username", "password"))
    except DatabaseError as error:
        errors.append(
            _error(
                f"The staff accounts cannot be read to check for default accounts ({error}).",
                "Run `sustain migrate` against this database first.",
                "sustain.E002",
            )
        )
        return errors
    for user in active:
        name = user.get_username()
        if name in DEMO_NAMES:
            errors.append(
                _error(
                    f"The demo account {name!r} is active.",
                    "This is a demo database, or deactivate that account.",
                    "sustain.E003",
                )
            )
        elif name.lower() in SHARED_NAMES:
            errors.append(
                _error(
                    f"An account named {name!r} is active: a shared or default name.",
                    "Give each person their own named account and deactivate this one.",
                    "sustain.E004",
                )
            )
        # Django's check_password without the user's setter: the check never writes.
        if user.has_usable_password() and check_password(DEMO_PASSWORD, user.password):
            errors.append(
                _error(
                    f"The account {name!r} has the demo's password.",
                    "Reset its password from the staff page.",
                    "sustain.E005",
                )
            )
    return errors
