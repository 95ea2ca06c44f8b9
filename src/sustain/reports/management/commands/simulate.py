"""`sustain simulate`: compare maintenance policies on a virtual cohort (issue 17 item 4).

    sustain simulate --policy none --policy fixed:28 --policy taper:7,14,21,28 \\
        --policy symptom:7 --policy forecast:0.2 --patients 20000 --years 1 --preset murrough
    sustain simulate --policy fixed:7 --policy symptom:7,7 --csv

Prints, per policy, relapse-free days, days in relapse, infusions and chair hours per
patient-year in the program, and the chairs a site needs at steady state for its weekly
intake (each new patient staying the simulated years), as a plain-text table or CSV. The
response probability comes from a literature preset, the Weibull time to relapse from the
median of 18 days [Murrough2013] with the shape given (our assumption); the induction count
and the chair time of a visit from the protocol. With --scale-days, --response-probability
and --shape, the cohort is a clinic's own fit instead; with --site and --fitted, the site's own
response at the end of induction and its latest relapse fit (sustain.reports.simulation: the
one read of patient data, audited); otherwise it reads no patient data. The model and its
assumptions are sustain_core.simulate's. Every bad value is one line on stderr and exit
status 2.
"""

import argparse
import csv
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.core.management.base import CommandParser
from django.utils import timezone

from sustain.accounts.models import Site
from sustain.care.management.commands._cli import PlainCommand, number, refuse
from sustain.care.management.commands._protocol_arg import library_protocol
from sustain.reports import simulation
from sustain_core import simulate
from sustain_core.errors import ClinicalValueError
from sustain_core.protocols import Protocol

DEFAULT_POLICIES = ("none", "fixed:28", "symptom:7")
# Our defaults (unconfirmed): a site open 10 hours on 5 days, its chairs 85 % used.
DEFAULT_CHAIR_HOURS_PER_WEEK = "50"
DEFAULT_UTILISATION = "0.85"
# The core's field names that are not the option's name.
OPTIONS = {"relapse_shape": "shape", "relapse_scale_days": "scale-days"}
COLUMNS = (
    ("policy", "policy"),
    ("booster_every_days", "booster every (days)"),
    ("responders", "responders"),
    ("patient_years", "patient-years"),
    ("relapse_free_days_per_year", "relapse-free days/pt-yr"),
    ("relapse_days_per_year", "days in relapse/pt-yr"),
    ("infusions_per_year", "infusions/pt-yr"),
    ("chair_hours_per_year", "chair hours/pt-yr"),
    ("longest_relapse_days", "longest relapse (days)"),
    ("chairs_needed", "chairs needed"),
)


def whole(what: str, low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from low to high, named `what` when refused."""

    def parse(text: str) -> int:
        if not text.strip().isdigit() or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(
                f"{what} must be a whole number from {low} to {high}; got {text!r}"
            )
        return int(text)

    return parse


class Command(PlainCommand):
    help = (
        "Compare maintenance policies (none, fixed:N, taper:N,N,..., symptom:A[,C], "
        "forecast:P[,H[,G]]) on a virtual cohort: relapse-free days, infusions and chair hours "
        "per patient-year, and the chairs a site needs for its intake."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--policy", action="append", default=[],
            help=f"a policy, repeatable (default: {' '.join(DEFAULT_POLICIES)})",
        )  # fmt: skip
        parser.add_argument(
            "--patients", type=whole("the number of patients", 1, 2_000_000), default=10_000
        )
        parser.add_argument(
            "--years", type=number("the years"), default=Decimal(1),
            help="years each patient is followed from the first infusion (default 1)",
        )  # fmt: skip
        parser.add_argument(
            "--intake-per-week", type=number("the intake per week"), default=Decimal(5),
            help="new patients a week, for the chairs needed (default 5)",
        )  # fmt: skip
        parser.add_argument("--seed", type=whole("the seed", 0, 2**63 - 1), default=0)
        parser.add_argument(
            "--preset", choices=sorted(simulate.LITERATURE_RESPONSE),
            help="response at the end of induction from a study (default murrough)",
        )  # fmt: skip
        parser.add_argument(
            "--scale-days", type=number("the Weibull scale"),
            help="a clinic's own fit: the Weibull scale of the time to relapse, in days "
            "(with --response-probability and --shape; instead of --preset)",
        )  # fmt: skip
        parser.add_argument(
            "--response-probability", type=number("the response probability"),
            help="a clinic's own fit: response at the end of induction, 0 to 1",
        )  # fmt: skip
        parser.add_argument(
            "--shape", type=number("the Weibull shape"),
            help="the Weibull shape of the time to relapse (default 1.2, an assumption)",
        )  # fmt: skip
        parser.add_argument(
            "--protocol", default="depression-induction",
            help="key@version: the induction count and the chair time of a visit",
        )  # fmt: skip
        parser.add_argument(
            "--induction-days", type=whole("the induction days", 1, 365), default=12,
            help="days from the first infusion to maintenance (default 12 [Murrough2013])",
        )  # fmt: skip
        parser.add_argument(
            "--chair-hours-per-week", type=number("the chair hours per week"),
            default=Decimal(DEFAULT_CHAIR_HOURS_PER_WEEK),
            help="hours one chair is open a week (default 50)",
        )  # fmt: skip
        parser.add_argument(
            "--utilisation", type=number("the utilisation"),
            default=Decimal(DEFAULT_UTILISATION),
            help="target share of a chair's open hours in use (default 0.85)",
        )  # fmt: skip
        parser.add_argument("--site", help="a site's id or name (with --fitted)")
        parser.add_argument(
            "--fitted", action="store_true",
            help="the site's own response at the end of induction and its latest relapse fit "
            "(reads the site's courses, audited)",
        )  # fmt: skip
        parser.add_argument("--csv", action="store_true", help="print CSV instead of a table")

    def handle(self, *args: Any, **options: Any) -> None:
        protocol = library_protocol(options["protocol"])
        texts = options["policy"] or list(DEFAULT_POLICIES)
        try:
            policies = [simulate.parse_policy(text) for text in texts]
        except ClinicalValueError as error:
            refuse(f"--policy: {error.message}")
        try:
            parameters = _parameters(protocol, options)
            rows = []
            for policy in policies:
                run = simulate.simulate(
                    parameters, policy, patients=options["patients"],
                    years=float(options["years"]), seed=options["seed"],
                )  # fmt: skip
                outcome = simulate.summarise(run)
                chairs = outcome.chairs_needed(
                    intake_per_week=float(options["intake_per_week"]),
                    chair_hours_per_week=float(options["chair_hours_per_week"]),
                    utilisation=float(options["utilisation"]),
                )
                rows.append(_row(outcome, chairs))
        except ClinicalValueError as error:
            option = OPTIONS.get(error.field, error.field.replace("_", "-"))
            refuse(f"--{option}: {error.message}")
        if options["csv"]:
            writer = csv.writer(self.stdout, lineterminator="\n")
            writer.writerow([key for key, _ in COLUMNS])
            writer.writerows([row[key] for key, _ in COLUMNS] for row in rows)
            return
        self.stdout.write(
            f"{options['patients']} virtual patients, {options['years']} year(s) each, seed "
            f"{options['seed']}; {protocol.key}@{protocol.version}: "
            f"{parameters.induction_infusions} infusions over {parameters.induction_days} days, "
            f"{parameters.visit_minutes} min a visit"
        )
        self.stdout.write(f"response and relapse: {parameters.source}")
        self.stdout.write(
            f"chairs for {options['intake_per_week']} new patients a week, each chair "
            f"{options['chair_hours_per_week']} h a week, {options['utilisation']} of it in use"
        )
        self.stdout.write("a simulation under stated assumptions (sustain_core.simulate), "
                          "not a prediction")  # fmt: skip
        self.stdout.write("")
        header = [label for _, label in COLUMNS]
        self.stdout.write(_table([header, *([row[key] for key, _ in COLUMNS] for row in rows)]))


def _parameters(protocol: Protocol, options: dict[str, Any]) -> simulate.CohortParameters:
    """The cohort from a literature preset, from a clinic's own fit given as options, or from
    a site's own data (--site, --fitted)."""
    visit_minutes = math.ceil(protocol.visit_length.total_seconds() / 60)
    scale, response = options["scale_days"], options["response_probability"]
    if options["fitted"] or options["site"] is not None:
        given = [options[name] for name in ("preset", "shape", "scale_days",
                                             "response_probability")]  # fmt: skip
        if not options["fitted"] or options["site"] is None or given != [None] * 4:
            refuse("give --site and --fitted together, without --preset, --shape, "
                   "--scale-days or --response-probability")  # fmt: skip
        return simulation.clinic_parameters(
            site=_site(options["site"]), protocol=protocol,
            induction_days=options["induction_days"], visit_minutes=visit_minutes,
            now=timezone.now(),
        )  # fmt: skip
    given_shape = options["shape"]
    shape = simulate.DEFAULT_RELAPSE_SHAPE if given_shape is None else float(given_shape)
    induction = {
        "induction_infusions": protocol.series.count,
        "induction_days": options["induction_days"],
        "visit_minutes": visit_minutes,
    }
    if scale is None and response is None:
        return simulate.CohortParameters.from_literature(
            options["preset"] or "murrough", relapse_shape=shape, **induction
        )
    if scale is None or response is None or options["preset"] is not None:
        refuse("give --scale-days and --response-probability together (a clinic's own fit), "
               "or --preset, not both")  # fmt: skip
    return simulate.CohortParameters.from_fitted(
        shape=shape, scale_days=float(scale), response_probability=float(response),
        source=(f"given: response {response}, Weibull shape {shape:g} and scale "
                f"{scale} days (a clinic's own fit)"),
        **induction,
    )  # fmt: skip


def _site(text: str) -> Site:
    """The site with this id or name."""
    text = text.strip()
    found = (Site.objects.filter(pk=int(text)) if text.isdigit() and len(text) <= 18
             else Site.objects.filter(name=text)).first()  # fmt: skip
    if found is None:
        refuse(f"there is no site with the id or name {text[:60]!r}")
    return found


def _row(outcome: simulate.PolicyOutcome, chairs: float) -> dict[str, str]:
    every = outcome.booster_interval_days
    per_year = outcome.per_year
    return {
        "policy": outcome.label,
        "booster_every_days": "" if every is None else str(every),
        "responders": str(outcome.responders),
        "patient_years": f"{outcome.patient_years:.0f}",
        "relapse_free_days_per_year": f"{per_year['relapse_free_days']:.1f}",
        "relapse_days_per_year": f"{per_year['relapse_days']:.1f}",
        "infusions_per_year": f"{per_year['infusions']:.2f}",
        "chair_hours_per_year": f"{per_year['chair_hours']:.1f}",
        "longest_relapse_days": f"{outcome.longest_relapse_days:.1f}",
        "chairs_needed": f"{chairs:.2f}",
    }


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(width) if i else cell.ljust(width)
                       for i, (cell, width) in enumerate(zip(row, widths, strict=True)))
             for row in rows]  # fmt: skip
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)
