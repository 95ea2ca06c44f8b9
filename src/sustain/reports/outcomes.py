"""A site's cohort outcomes for a protocol and period, beside the literature (issue 17).

``outcomes_report`` gathers every figure of the outcomes page, its CSV and its PDF from the
course records (``reports.cohort.course_records``) and the site's chairs and hours. It holds
aggregates only: counts, proportions, a survival curve; no patient's name or id. The caller
checks the permission and audits the read (``outcomes_for_user``).
"""

import datetime as dt
import statistics
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import Membership, Site, User
from sustain.reports.cohort import course_records
from sustain.scheduling.enums import AppointmentStatus
from sustain.scheduling.models import Appointment
from sustain_core import cohort, literature, outcomes, protocols
from sustain_core.errors import ClinicalValueError

PERMISSION = "reports.view_outcomes"
CATEGORY = DataCategory.COURSE
WINDOWS = {"end": cohort.END_OF_INDUCTION_WINDOW, "mcinnes": cohort.MCINNES_WINDOW}
# The longest period one page reads: ten years of courses.
MAX_DAYS = 3660


@dataclass(frozen=True)
class StudyRow:
    """A study beside the clinic, with each way its definitions differ (``warnings``)."""

    study: literature.Study
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class OutcomesReport:
    """Every figure of the outcomes page (see the module and ``sustain_core.cohort``)."""

    site: Site
    protocol_key: str | None
    start: dt.date
    end: dt.date
    window: cohort.Window
    censor_at_first_booster: bool
    started: int
    patients: int
    completed_induction: int
    classified: int
    left_out: tuple[tuple[str, int], ...]
    response: cohort.Proportion | None
    remission: cohort.Proportion | None
    infusions_to_response: tuple[tuple[int, int], ...]  # (infusions, courses), ascending
    median_infusions_to_response: float | None
    relapse: cohort.SurvivalCurve | None
    infusions: int
    adverse: cohort.AdverseEventCounts
    adverse_per_100: Decimal | None
    no_shows: cohort.Proportion | None
    chair_minutes_used: int
    chair_minutes_open: int
    instruments: tuple[str, ...]
    rules: outcomes.OutcomeRules | None
    studies: tuple[StudyRow, ...]
    warnings: tuple[str, ...]

    @property
    def chair_use(self) -> Decimal | None:
        """Chair hours used / chair hours open, in percent to 0.1; None when none was open."""
        return cohort.per_100(self.chair_minutes_used, self.chair_minutes_open)

    @property
    def responders_followed(self) -> int:
        return self.relapse.n if self.relapse else 0


def check_period(start: dt.date, end: dt.date) -> None:
    """Refuse a period that ends before it starts or is longer than ten years."""
    if end < start:
        raise ClinicalValueError("end", f"the period ends on {end}, before it starts on {start}")
    if (end - start).days >= MAX_DAYS:
        raise ClinicalValueError("end", "a period is at most ten years long")


def outcomes_for_user(
    *,
    user: User,
    site: Site,
    protocol_key: str | None,
    start: dt.date,
    end: dt.date,
    window: str = "end",
    censor_at_first_booster: bool = False,
    output: str,
    now: dt.datetime,
) -> OutcomesReport:
    """The report as ``user`` may see it, audited as one event (the page a read, a CSV or PDF
    an export; the reason names the output). Refused: a user without the permission or not on
    the site's staff."""
    if not user.has_perm(PERMISSION):
        raise ClinicalValueError("by", "your role does not allow the cohort outcomes")
    if not Membership.objects.filter(user=user, site=site).exists():
        raise ClinicalValueError("by", f"you are not on the staff of {site.name}")
    report = outcomes_report(
        site,
        protocol_key=protocol_key,
        start=start,
        end=end,
        window=WINDOWS[window],
        censor_at_first_booster=censor_at_first_booster,
        now=now,
    )
    if output != "csv":  # the CSV is audited by accounts.exports.csv_export
        record_event(
            actor=user,
            action=AuditAction.READ if output == "page" else AuditAction.EXPORT,
            category=CATEGORY,
            site=site,
            reason=f"cohort outcomes {output}",
        )
    return report


def outcomes_report(
    site: Site,
    *,
    protocol_key: str | None,
    start: dt.date,
    end: dt.date,
    window: cohort.Window = cohort.END_OF_INDUCTION_WINDOW,
    censor_at_first_booster: bool = False,
    now: dt.datetime,
) -> OutcomesReport:
    """The site's outcomes for the courses whose first infusion was given from ``start`` to
    ``end`` (days in the site's time zone, both included), of one protocol or of all."""
    check_period(start, end)
    tz = site.tz
    since = dt.datetime.combine(start, dt.time(), tzinfo=tz)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    records = course_records(site, protocol_key=protocol_key, since=since, until=until, now=now)
    results = [cohort.end_of_induction(r, window=window) for r in records]
    classified = [r for r in results if r.status is cohort.EndOfInduction.CLASSIFIED]
    left_out = Counter(r.status.value for r in results if r not in classified)
    to_response = [n for n in map(cohort.infusions_to_first_response, records) if n is not None]
    episodes = [
        e
        for e in (
            cohort.relapse_episode(
                r, window=window, censor_at_first_booster=censor_at_first_booster
            )
            for r in records
        )
        if e is not None
    ]
    adverse = cohort.AdverseEventCounts(
        mild=sum(r.adverse_events.mild for r in records),
        moderate=sum(r.adverse_events.moderate for r in records),
        severe=sum(r.adverse_events.severe for r in records),
        serious=sum(r.adverse_events.serious for r in records),
    )
    infusions = sum(len(r.infusions) for r in records)
    instruments = tuple(sorted({r.instrument for r in records}))
    rules = _rules(records, protocol_key)
    window_label = window.label
    studies = tuple(
        StudyRow(s, literature.compare(s, rules=rules, window_label=window_label) if rules else ())
        for s in literature.studies_for(_condition(records, protocol_key))
    )
    warnings = []
    if len(instruments) > 1:
        warnings.append(
            "These courses were measured on different instruments ("
            + ", ".join(literature.instrument_name(i) for i in instruments)
            + "): response and remission mix their definitions; choose one protocol."
        )
    chair_until = min(until, now)
    return OutcomesReport(
        site=site,
        protocol_key=protocol_key,
        start=start,
        end=end,
        window=window,
        censor_at_first_booster=censor_at_first_booster,
        started=sum(1 for r in records if r.infusions),
        patients=len({r.patient_id for r in records if r.infusions}),
        completed_induction=sum(1 for r in records if r.completed_induction),
        classified=len(classified),
        left_out=tuple(sorted(left_out.items())),
        response=_proportion(sum(r.responded for r in classified), len(classified)),
        remission=_proportion(sum(r.remitted for r in classified), len(classified)),
        infusions_to_response=tuple(sorted(Counter(to_response).items())),
        median_infusions_to_response=statistics.median(to_response) if to_response else None,
        relapse=cohort.kaplan_meier(episodes),
        infusions=infusions,
        adverse=adverse,
        adverse_per_100=cohort.per_100(adverse.total, infusions),
        no_shows=cohort.no_show_rate(records),
        chair_minutes_used=_chair_minutes_used(site, protocol_key, since, chair_until),
        chair_minutes_open=_chair_minutes_open(site, since, chair_until),
        instruments=instruments,
        rules=rules,
        studies=studies,
        warnings=tuple(warnings),
    )


def _proportion(successes: int, n: int) -> cohort.Proportion | None:
    return cohort.wilson_interval(successes, n) if n else None


def _rules(
    records: list[cohort.CourseRecord], protocol_key: str | None
) -> outcomes.OutcomeRules | None:
    """The one set of outcome rules the courses share (None when they differ or none)."""
    found = {r.rules for r in records if r.rules is not None}
    if len(found) == 1:
        return found.pop()
    if not records and protocol_key is not None:
        protocol = _library(protocol_key)
        return protocol.outcome_rules(protocol.instrument) if protocol else None
    return None


def _condition(records: list[cohort.CourseRecord], protocol_key: str | None) -> str:
    keys = {r.protocol_key for r in records} or ({protocol_key} if protocol_key else set())
    conditions = {p.condition for p in map(_library, keys) if p is not None}
    return conditions.pop() if len(conditions) == 1 else "depression"


def _library(key: str) -> protocols.Protocol | None:
    """The newest library version of a protocol key (None: a clinic's own protocol only)."""
    versions = [p for (k, _), p in protocols.PROTOCOLS.items() if k == key]
    return max(versions, key=lambda p: p.version) if versions else None


def _chair_minutes_used(
    site: Site, protocol_key: str | None, since: dt.datetime, until: dt.datetime
) -> int:
    """The booked chair time of the visits given at the site in [since, until)."""
    if until <= since:
        return 0
    visits = Appointment.objects.filter(
        site=site, status=AppointmentStatus.COMPLETED, starts_at__gte=since, starts_at__lt=until
    )
    if protocol_key is not None:
        visits = visits.filter(course__protocol_key=protocol_key)
    return sum(
        int((end - begin) / dt.timedelta(minutes=1))
        for begin, end in visits.values_list("starts_at", "ends_at")
    )


def _chair_minutes_open(site: Site, since: dt.datetime, until: dt.datetime) -> int:
    """Chairs × opening minutes of each open day in [since, until), closures left out; the
    site's hours are wall-clock times, measured in elapsed time (a DST day is an hour
    shorter or longer)."""
    chairs = site.chairs.count()
    if until <= since or not chairs:
        return 0
    tz = site.tz
    hours: dict[int, list[tuple[dt.time, dt.time]]] = {}
    for opening in site.opening_hours.all():
        hours.setdefault(opening.weekday, []).append((opening.opens, opening.closes))
    closed = set(site.closures.values_list("date", flat=True))
    minutes = 0
    day = since.astimezone(tz).date()
    last = (until - dt.timedelta(microseconds=1)).astimezone(tz).date()
    while day <= last:
        if day not in closed:
            for opens, closes in hours.get(day.weekday(), ()):
                begin = max(dt.datetime.combine(day, opens, tzinfo=tz), since)
                end = min(dt.datetime.combine(day, closes, tzinfo=tz), until)
                if end > begin:  # elapsed time: subtract in UTC, not on the wall clock
                    elapsed = end.astimezone(dt.UTC) - begin.astimezone(dt.UTC)
                    minutes += int(elapsed / dt.timedelta(minutes=1))
        day += dt.timedelta(days=1)
    return minutes * chairs


CSV_COLUMNS = ("measure", "value", "numerator", "denominator", "low_95", "high_95", "definition")


def csv_rows(
    report: OutcomesReport,
) -> list[tuple[str, str, int | None, int | None, str, str, str]]:
    """The report's figures as CSV rows (aggregates only), the literature's after the
    clinic's, each with its definition."""
    window = report.window.label
    rows: list[tuple[str, str, int | None, int | None, str, str, str]] = [
        (
            "courses started",
            str(report.started),
            None,
            None,
            "",
            "",
            "first infusion in the period",
        ),
        (
            "patients started",
            str(report.patients),
            None,
            None,
            "",
            "",
            "first infusion in the period",
        ),
        ("completed induction", str(report.completed_induction), None, None, "", "", ""),
        ("classified at end of induction", str(report.classified), None, None, "", "", window),
    ]
    rows += [
        (f"left out: {reason}", str(n), None, None, "", "", "") for reason, n in report.left_out
    ]
    for name, proportion in (("response", report.response), ("remission", report.remission)):
        if proportion is not None:
            rows.append(_proportion_row(f"{name} at end of induction", proportion, window))
    rows.append(
        (
            "median infusions to first response",
            _number(report.median_infusions_to_response),
            None,
            None,
            "",
            "",
            "",
        )
    )
    rows += [
        (f"first response after {k} infusions", str(n), None, None, "", "", "")
        for k, n in report.infusions_to_response
    ]
    curve = report.relapse
    if curve is not None:
        censoring = (
            "first booster or last score" if report.censor_at_first_booster else "last score"
        )
        rows.append(
            (
                "median days to relapse among responders",
                _number(curve.median_days),
                curve.events,
                curve.n,
                _number(curve.median_low),
                _number(curve.median_high),
                f"Kaplan–Meier from the last induction infusion; censored at the {censoring}",
            )
        )
        rows += [
            (
                f"relapse-free at {s.days:g} days",
                f"{s.survival:.4f}",
                s.at_risk - s.events,
                s.at_risk,
                f"{s.low:.4f}",
                f"{s.high:.4f}",
                f"{s.events} relapsed, {s.censored} censored",
            )
            for s in curve.steps
        ]
    rows.append(
        (
            "adverse events per 100 infusions",
            _number(report.adverse_per_100),
            report.adverse.total,
            report.infusions,
            "",
            "",
            f"mild {report.adverse.mild}, moderate {report.adverse.moderate}, severe "
            f"{report.adverse.severe}, serious {report.adverse.serious}",
        )
    )
    if report.no_shows is not None:
        rows.append(_proportion_row("no-shows", report.no_shows, "of the visits due"))
    rows.append(
        (
            "chair use (percent)",
            _number(report.chair_use),
            report.chair_minutes_used,
            report.chair_minutes_open,
            "",
            "",
            "chair minutes used / chair minutes open",
        )
    )
    for row in report.studies:
        s = row.study
        for name, value in (("response", s.response), ("remission", s.remission)):
            if value is not None:
                rows.append(
                    (
                        f"{s.label}: {name}",
                        f"{value:f}",
                        None,
                        s.n,
                        "",
                        "",
                        f"{s.definition} {s.citation}; " + "; ".join(row.warnings),
                    )
                )
    return rows  # fmt: skip


def _proportion_row(
    name: str, proportion: cohort.Proportion, definition: str
) -> tuple[str, str, int | None, int | None, str, str, str]:
    return (
        name, f"{proportion.estimate:.4f}", proportion.successes, proportion.n,
        f"{proportion.low:.4f}", f"{proportion.high:.4f}",
        definition + ("; fewer than 5: the interval is wide" if proportion.small else ""),
    )  # fmt: skip


def _number(value: float | Decimal | None) -> str:
    if value is None:
        return ""
    return f"{value:f}" if isinstance(value, Decimal) else f"{value:g}"
