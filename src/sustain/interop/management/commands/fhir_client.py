from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from sustain.accounts.enums import Role
from sustain.accounts.models import Site
from sustain.accounts.web import plain
from sustain.interop import clients
from sustain.interop.models import SystemClient
from sustain_core.errors import ClinicalValueError


class Command(BaseCommand):
    help = (
        "Systems that read the FHIR API with their own token (OAuth 2.0 client credentials). "
        "`create --site SITE --role ROLE --scope system/Patient.read NAME` prints the client id "
        "and the secret, once; `list` shows every client; `revoke NAME` stops its tokens at once."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        """The name may come after the options (`create --site … NAME`), as the help shows."""
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.parse_args = parser.parse_intermixed_args  # type: ignore[method-assign]
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["create", "list", "revoke"])
        parser.add_argument(
            "name", nargs="?", default="", help="the client's name (create, revoke)"
        )
        parser.add_argument("--site", default="", help="the site's name (create)")
        parser.add_argument("--role", choices=Role.values, help="the staff role it acts with")
        parser.add_argument(
            "--scope", action="append", default=[],
            help="system/<Type>.read or system/*.read; repeat for more (create)",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        action, name = options["action"], options["name"].strip()
        if action == "list":
            if name or options["site"] or options["role"] or options["scope"]:
                raise CommandError("list takes no name and no options")
            self._list()
            return
        if not name:
            raise CommandError(f"{action} needs the client's name")
        try:
            if action == "create":
                self._create(name, options)
            else:
                if options["site"] or options["role"] or options["scope"]:
                    raise CommandError("revoke takes the client's name only")
                client = SystemClient.objects.filter(name=name).first()
                if client is None:
                    raise CommandError(f"no system client is named {name[:60]!r}")
                clients.revoke_client(client, by=None, now=timezone.now())
                self.stdout.write(f"{client.name} is revoked: its tokens no longer work.")
        except ClinicalValueError as error:
            raise CommandError(plain(error)) from None

    def _create(self, name: str, options: dict[str, Any]) -> None:
        if not options["site"] or not options["role"] or not options["scope"]:
            raise CommandError("create needs --site, --role and at least one --scope")
        site = Site.objects.filter(name=options["site"]).first()
        if site is None:
            raise CommandError(f"no site is named {options['site'][:80]!r}")
        issued = clients.create_client(
            name=name, site=site, role=options["role"], scopes=options["scope"], by=None,
            now=timezone.now(),
        )  # fmt: skip
        self.stdout.write(
            f"{issued.client.name}: a {Role(issued.client.role).label} at {site.name}, "
            f"scopes {issued.client.scopes}\n"
            f"client id:     {issued.client_id}\n"
            f"client secret: {issued.secret}\n"
            "The secret is shown this once (only its hash is kept): give it to the system now.\n"
            f"Token endpoint: {settings.SUSTAIN_BASE_URL}{clients.ENDPOINT}"
        )

    def _list(self) -> None:
        found = clients.clients_at()
        if not found:
            self.stdout.write("No system clients.")
            return
        for client in found:
            state = (
                f"revoked {client.revoked_at:%Y-%m-%d %H:%M} UTC" if client.revoked_at else "active"
            )
            self.stdout.write(
                f"{client.name}\t{client.site.name}\t{client.role}\t{client.scopes}\t"
                f"{client.application.client_id}\tmade {client.created_at:%Y-%m-%d}\t{state}"
            )
