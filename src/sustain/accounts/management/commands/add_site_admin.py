from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from sustain.accounts import users
from sustain.accounts.models import Site
from sustain.accounts.web import plain
from sustain_core.errors import ClinicalValueError


class Command(BaseCommand):
    help = (
        "Make a site's first clinic administrator (and the site, if new) and print the link "
        "where they choose their password; they invite everyone else from the Staff accounts "
        "page. Refused once the site has an active clinic administrator."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", required=True, help="the site's name")
        parser.add_argument("--timezone", default="", help="IANA name, for a new site")
        parser.add_argument("--username", required=True)
        parser.add_argument("--email", required=True)
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with transaction.atomic():
                site = Site.objects.filter(name=options["site"]).first()
                if site is None:
                    site = Site(name=options["site"], timezone=options["timezone"])
                    site.full_clean()
                    site.save()
                user = users.make_first_administrator(
                    invitation=users.Invitation(
                        username=options["username"], first_name=options["first_name"],
                        last_name=options["last_name"], email=options["email"],
                        roles=frozenset(), site=site,
                    )
                )  # fmt: skip
        except ClinicalValueError as error:
            raise CommandError(plain(error)) from None
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        link = settings.SUSTAIN_BASE_URL + users.set_password_path(user)
        self.stdout.write(
            f"{user.get_username()} is the clinic administrator of {site.name}. "
            f"Choose the password here (once, within 3 days):\n{link}"
        )
