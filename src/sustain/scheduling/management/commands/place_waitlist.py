from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from sustain.accounts.models import Site, User
from sustain.scheduling.services import place_waitlist
from sustain_core.errors import ClinicalValueError


class Command(BaseCommand):
    help = (
        "Place the waitlist's induction series at once and compare with booking them one by "
        "one, with a proven bound on the best plan; --book books the batch plan (as --by, a "
        "scheduler)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", type=int, required=True, help="site id")
        parser.add_argument(
            "--seconds",
            type=float,
            default=2.0,
            help="CP-SAT time for the batch plan (deterministic seconds)",
        )
        parser.add_argument("--book", action="store_true", help="book the batch plan")
        parser.add_argument("--by", default="", help="username that books (with --book)")

    def handle(self, *args: Any, **options: Any) -> None:
        site = Site.objects.filter(pk=options["site"]).first()
        if site is None:
            raise CommandError(f"no site {options['site']}")
        by = User.objects.filter(username=options["by"]).first()
        if options["book"] and (by is None or not by.has_perm("scheduling.add_appointment")):
            raise CommandError("--book needs --by a user who may book (a scheduler)")
        try:
            greedy, batch = place_waitlist(
                site=site, by=by, now=timezone.now(),  # type: ignore[arg-type]
                time_limit_s=options["seconds"], book=options["book"],
            )  # fmt: skip
        except ClinicalValueError as refused:  # e.g. a visit booked while the plan was made
            raise CommandError(f"nothing was booked: {refused}; run again") from None
        placed = len(greedy.series) + len(greedy.unplaced)
        self.stdout.write(f"{placed} waiting series at {site.name}")
        self.stdout.write(
            f"one by one: {greedy.days_waited} days waited, {len(greedy.unplaced)} unplaced"
        )
        self.stdout.write(
            f"batch ({batch.solver_status.lower()}): {batch.days_waited} days waited, "
            f"{len(batch.unplaced)} unplaced" + (", booked" if options["book"] else "")
        )
        (least_unplaced, least_days), (more_unplaced, more_days) = batch.bound, batch.gap
        self.stdout.write(
            f"proven bound: {least_unplaced} unplaced, {least_days} days waited "
            f"(gap {more_unplaced} unplaced, {more_days} days)"
        )
