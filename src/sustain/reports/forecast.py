"""The relapse forecast per site (issue 17, item 3): fit, store, and read per patient.

`fit_site` reads the site's courses (sustain.reports.cohort.course_records), fits the relapse
model (sustain_core.relapse: a Weibull AFT with the literature prior), checks it on held-out
time (the backtest) and stores both, with the episode each responder in maintenance has open,
as a `RelapseFit`. The worker refits every site nightly (sustain.reports.tasks) and the demo
fits at its end. The pages read the latest fit: today's risk of each responder over 7, 14 and
28 days, and the day to book a booster by under the site's clinic rule (booster_risk_percent
over booster_risk_horizon_days, sustain_core.clinic_rules). Per-patient risks are shown only
when the backtest has enough held-out data (`sustain_core.relapse.Backtest.enough`).

The open episodes are those known when the fit ran: a booster given or a score taken since
shows at the next fit (nightly), which the pages say.
"""

import dataclasses
import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Max, Min, Q

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import Site
from sustain.care import rules
from sustain.care.enums import CourseStatus
from sustain.reports.cohort import course_records
from sustain.reports.models import RelapseFit
from sustain.scheduling.enums import AppointmentStatus
from sustain.scheduling.models import Appointment
from sustain_core import cohort, outcomes, relapse

FITTED_BY = "sustain worker"
RESPONDING = {outcomes.Outcome.RESPONSE, outcomes.Outcome.REMISSION}
PRIOR_RULE = (
    "prior weight = k·k/(k + clinic relapses) patient-equivalents, k = "
    f"{relapse.PRIOR_PATIENTS_DEFAULT}"
)


def history_of(record: cohort.CourseRecord) -> relapse.CourseHistory | None:
    """The forecast's view of a course record (each observation marked responding or not against
    the baseline, with the course's outcome rules); None without a trajectory or baseline."""
    trajectory = record.trajectory
    if trajectory is None or trajectory.baseline is None or record.rules is None:
        return None
    base = trajectory.baseline.score
    return relapse.CourseHistory(
        course_id=record.course_id,
        patient_id=record.patient_id,
        infusions=record.infusions,
        induction_count=record.induction_count,
        observations=record.observations,
        baseline_score=trajectory.baseline.score,
        first_response_at=trajectory.first_response_at,
        relapse_at=trajectory.relapse_at,
        confirmation_days=record.relapse_confirmation_days,
        responding=tuple(
            outcomes.classify(record.rules, baseline_score=base, current_score=o.score)
            in RESPONDING
            for o in record.observations
        ),
    )


@transaction.atomic
def fit_site(*, site: Site, now: dt.datetime) -> RelapseFit:
    """Fit the site's relapse model on its history as known at `now`, backtest it at the
    site's horizon, and store it with the open episodes of its responders in maintenance (one
    audit event: the fit read the site's courses)."""
    records = course_records(site, now=now)
    histories = {r.course_id: h for r in records if (h := history_of(r)) is not None}
    known = [e for h in histories.values() for e in relapse.episodes(h, now=now)]
    model = relapse.fit(known, prior_patients=relapse.PRIOR_PATIENTS_DEFAULT)
    horizon = rules.current_rules(site).booster_risk_horizon_days
    checked = relapse.backtest(list(histories.values()), now=now, horizon_days=horizon)
    open_episodes = []
    for record in records:
        history = histories.get(record.course_id)
        if history is None or record.status != CourseStatus.MAINTENANCE:
            continue
        current = relapse.open_episode(history, now=now)
        if current is not None:
            open_episodes.append(
                {
                    "course_id": current.course_id,
                    "patient_id": current.patient_id,
                    "start": current.start.isoformat(),
                    "slope": current.slope,
                }
            )
    fitted = RelapseFit.objects.create(
        site=site,
        fitted_at=now,
        parameters=model.as_dict()
        | {
            "prior_rule": PRIOR_RULE,
            "prior_sources": [s.key for s in relapse.PRIOR_SOURCES],
            "median_days": model.median_days(),
        },
        backtest=checked.as_dict(),
        open_episodes=open_episodes,
    )
    record_event(
        actor=None, username=FITTED_BY, action=AuditAction.CREATE, category=DataCategory.COURSE,
        site=site, obj=fitted, reason="relapse model fitted",
    )  # fmt: skip
    return fitted


def fit_all_sites(*, now: dt.datetime) -> list[RelapseFit]:
    """Fit every site's model (the nightly task and the demo's last step)."""
    return [fit_site(site=site, now=now) for site in Site.objects.order_by("pk")]


def latest_fit(site: Site) -> RelapseFit | None:
    """The site's latest fit, or None before the first."""
    return RelapseFit.objects.filter(site=site).order_by("-fitted_at", "-pk").first()


@dataclasses.dataclass(frozen=True)
class PatientRisk:
    """One responder's forecast today: days since the episode's infusion, the slope, the
    relapse risk over each horizon (relapse.HORIZONS_DAYS), the date to book a booster by,
    whether that is within the clinic's horizon already, and their next booked visit.

    ``given_since``: the start of a visit given after the episode's infusion (a booster given
    since the fit). The episode is then over: its risks are not shown and nothing is due
    until the next fit starts the new one."""

    course_id: int
    patient_id: int
    start: dt.datetime
    days: float
    slope: float
    risks: tuple[tuple[int, float], ...]
    booster_by: dt.date
    due_now: bool
    next_booked: dt.datetime | None
    given_since: dt.datetime | None


@dataclasses.dataclass(frozen=True)
class SiteForecast:
    """A site's latest fit read for a page: the model, its backtest, the clinic's threshold
    and (only when the backtest has enough held-out data) each responder's risk."""

    fit: RelapseFit
    model: relapse.RelapseModel
    enough: bool
    threshold_percent: int
    horizon_days: int
    patients: tuple[PatientRisk, ...]


def _risk(
    entry: dict[str, object],
    model: relapse.RelapseModel,
    *,
    threshold_percent: int,
    horizon_days: int,
    now: dt.datetime,
    today: dt.date,
    visits: tuple[dt.datetime | None, dt.datetime | None],
) -> PatientRisk:
    """`visits`: the course's next booked visit and its latest given (_visits)."""
    next_booked, last_given = visits
    start = dt.datetime.fromisoformat(str(entry["start"]))
    given_since = last_given if last_given is not None and last_given > start else None
    slope = float(str(entry["slope"]))
    days = (now - start) / dt.timedelta(days=1)
    risks = tuple(
        (h, relapse.risk_within(model, days=days, horizon_days=h, slope=slope))
        for h in relapse.HORIZONS_DAYS
    )
    day = relapse.booster_day(model, days=days, slope=slope, threshold_percent=threshold_percent)
    due = relapse.risk_within(model, days=days, horizon_days=horizon_days, slope=slope)
    return PatientRisk(
        course_id=int(str(entry["course_id"])),
        patient_id=int(str(entry["patient_id"])),
        start=start,
        days=days,
        slope=slope,
        risks=risks,
        # booster_day counts from the infusion; today is whole day ⌊days⌋ of the episode.
        booster_by=today + dt.timedelta(days=day - int(days)),
        due_now=given_since is None and due >= threshold_percent / 100,
        next_booked=next_booked,
        given_since=given_since,
    )


def _visits(
    course_ids: Iterable[int], now: dt.datetime
) -> dict[int, tuple[dt.datetime | None, dt.datetime | None]]:
    """Each course's first visit booked from `now` and the start of its latest visit given
    (one query)."""
    rows = (
        Appointment.objects.filter(
            course_id__in=list(course_ids),
            status__in=[AppointmentStatus.BOOKED, AppointmentStatus.COMPLETED],
        )
        .values("course_id")
        .annotate(
            first=Min("starts_at", filter=Q(status=AppointmentStatus.BOOKED, starts_at__gte=now)),
            given=Max("starts_at", filter=Q(status=AppointmentStatus.COMPLETED)),
        )
    )
    return {row["course_id"]: (row["first"], row["given"]) for row in rows}


def site_forecast(
    site: Site, *, now: dt.datetime, course_id: int | None = None
) -> SiteForecast | None:
    """The site's latest fit read at `now` (None before the first fit), with each responder's
    risk, or only course `course_id`'s. No per-patient risk without enough held-out data."""
    fitted = latest_fit(site)
    if fitted is None:
        return None
    model = relapse.RelapseModel.from_dict(fitted.parameters)
    current = rules.current_rules(site)
    enough = bool(fitted.backtest.get("enough"))
    entries = [e for e in fitted.open_episodes if course_id is None or e["course_id"] == course_id]
    patients: tuple[PatientRisk, ...] = ()
    if enough and entries:
        visits = _visits((int(e["course_id"]) for e in entries), now)
        today = now.astimezone(site.tz).date()
        patients = tuple(
            sorted(
                (
                    _risk(
                        e,
                        model,
                        threshold_percent=current.booster_risk_percent,
                        horizon_days=current.booster_risk_horizon_days,
                        now=now,
                        today=today,
                        visits=visits.get(int(e["course_id"]), (None, None)),
                    )
                    for e in entries
                ),
                key=lambda p: (p.booster_by, -p.risks[1][1], p.course_id),
            )
        )
    return SiteForecast(
        fit=fitted,
        model=model,
        enough=enough,
        threshold_percent=current.booster_risk_percent,
        horizon_days=current.booster_risk_horizon_days,
        patients=patients,
    )
