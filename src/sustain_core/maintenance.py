"""Maintenance plans after induction: boosters at a fixed interval, a taper, or on symptoms.

Issue 4: "The prescriber chooses a plan (fixed interval; a taper such as weekly ×4 then
fortnightly; or symptom-triggered with a minimum gap), which produces due boosters."

Dates are calendar days in the patient's zone; nothing here reads the clock. The evidence
for maintenance is thin (clinical-facts §4): weekly maintenance held gains in a research
series [Phillips2019]; clinics book boosters "when needed", about every 4–6 weeks
(secondary); no trial-validated symptom trigger exists (unconfirmed). Every option and
default below says where it comes from.
"""

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sustain_core.errors import ClinicalValueError, OutOfRange

_ONE_DAY = dt.timedelta(days=1)
_ZERO = dt.timedelta(0)

# Median days from the last of 6 infusions to relapse: 18 [Murrough2013]; relapsers in
# [Shiroma2014] relapsed at a mean of 16 days. We take the shorter, so that a booster
# interval chosen below it falls before most relapses (our choice; unconfirmed).
EXPECTED_DAYS_TO_RELAPSE = 16

DECISION_AID = "Decision aid, not a published algorithm (unconfirmed); the prescriber decides."


# Defined before the example options below, which run it at import time.
def _check_days(field: str, value: dt.timedelta | None, plan: str, *, what: str = "") -> None:
    what = what or field
    if value is None:
        raise ClinicalValueError(field, f"{plan} needs {field}; got none")
    if value < _ONE_DAY or value % _ONE_DAY != _ZERO:
        raise OutOfRange(field, f"{what} must be a whole number of days, at least 1; got {value}")


class MaintenanceKind(StrEnum):
    FIXED_INTERVAL = "fixed_interval"
    TAPER = "taper"
    SYMPTOM_TRIGGERED = "symptom_triggered"


@dataclass(frozen=True)
class MaintenanceOption:
    """One maintenance plan a protocol offers.

    FIXED_INTERVAL: a booster every ``interval``. TAPER: ``steps`` of (count, interval), e.g.
    ((4, 7 days), (2, 14 days)) for weekly ×4 then fortnightly ×2. SYMPTOM_TRIGGERED: a booster
    when relapse is confirmed, never sooner than ``min_gap`` after the previous infusion.

    Intervals are whole days (boosters are planned on calendar days); ``min_gap`` may be any
    positive time and counts as whole days rounded up (48 h → 2 days, 36 h → 2 days), as in
    ``series.plan_series_dates``. A field that does not belong to the kind must be left empty,
    so that a plan never carries a number that silently does nothing.

    Raises ClinicalValueError naming the field when the kind's field is missing or another
    kind's field is set, or the kind is unknown; OutOfRange naming it when an interval or a
    step count is not a whole number of at least 1 (day), or ``min_gap`` is not above 0.
    """

    kind: MaintenanceKind
    label: str
    interval: dt.timedelta | None = None
    steps: tuple[tuple[int, dt.timedelta], ...] = ()
    min_gap: dt.timedelta | None = None
    citation: str = ""

    def __post_init__(self) -> None:
        if self.kind == MaintenanceKind.FIXED_INTERVAL:
            _check_days("interval", self.interval, "a fixed-interval plan")
            self._forbid(steps=True, min_gap=True)
        elif self.kind == MaintenanceKind.TAPER:
            if not self.steps:
                raise ClinicalValueError(
                    "steps", "a taper needs at least one step of (count, interval); got none"
                )
            for number, (count, interval) in enumerate(self.steps, start=1):
                if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                    raise OutOfRange(
                        "steps",
                        f"step {number} count must be a whole number, at least 1; got {count!r}",
                    )
                _check_days("steps", interval, "a taper", what=f"step {number} interval")
            self._forbid(interval=True, min_gap=True)
        elif self.kind == MaintenanceKind.SYMPTOM_TRIGGERED:
            if self.min_gap is None:
                raise ClinicalValueError(
                    "min_gap", "a symptom-triggered plan needs min_gap; got none"
                )
            if self.min_gap <= _ZERO:
                raise OutOfRange("min_gap", f"min_gap must be longer than 0; got {self.min_gap}")
            self._forbid(interval=True, steps=True)
        else:
            known = ", ".join(kind.value for kind in MaintenanceKind)
            raise ClinicalValueError("kind", f"kind must be one of {known}; got {self.kind!r}")

    @property
    def total_boosters(self) -> int | None:
        """Return how many boosters a finite plan gives (a taper: the sum of its steps'
        counts), or None for a plan that does not end (fixed interval, symptom-triggered).

        When the last of them is given the plan has ended with nothing after it, and the
        prescriber reviews the course (issue 11: the weekly ×4 taper ended with nothing).
        """
        if self.kind == MaintenanceKind.TAPER:
            return sum(count for count, _ in self.steps)
        return None

    @property
    def first_interval(self) -> dt.timedelta | None:
        """Return the time from the last induction infusion to the first booster, if scheduled.

        None for a symptom-triggered plan, whose boosters follow relapse.
        """
        if self.kind == MaintenanceKind.FIXED_INTERVAL:
            return self.interval
        if self.kind == MaintenanceKind.TAPER:
            return self.steps[0][1]
        return None

    def _forbid(
        self, *, interval: bool = False, steps: bool = False, min_gap: bool = False
    ) -> None:
        kind = self.kind.value.replace("_", "-")
        if interval and self.interval is not None:
            raise ClinicalValueError(
                "interval", f"a {kind} plan has no single interval; got {self.interval}"
            )
        if steps and self.steps:
            raise ClinicalValueError(
                "steps", f"a {kind} plan has no taper steps; got {len(self.steps)}"
            )
        if min_gap and self.min_gap is not None:
            raise ClinicalValueError(
                "min_gap",
                f"only a symptom-triggered plan has a minimum gap; got {self.min_gap}",
            )


# -- Example options (clinical-facts §4b); protocols may reuse them. ------------------------------

WEEKLY_X4 = MaintenanceOption(
    kind=MaintenanceKind.TAPER,
    label="Weekly ×4",
    steps=((4, dt.timedelta(weeks=1)),),
    citation="4 once-weekly infusions in responders after 6 thrice-weekly [Phillips2019]",
)
WEEKLY_X4_THEN_FORTNIGHTLY_X2 = MaintenanceOption(
    kind=MaintenanceKind.TAPER,
    label="Weekly ×4, then fortnightly ×2",
    steps=((4, dt.timedelta(weeks=1)), (2, dt.timedelta(weeks=2))),
    citation=(
        "weekly ×4 [Phillips2019]; the fortnightly tail is the issue's example taper, not a "
        "published regimen (unconfirmed)"
    ),
)
EVERY_4_WEEKS = MaintenanceOption(
    kind=MaintenanceKind.FIXED_INTERVAL,
    label="Every 4 weeks",
    interval=dt.timedelta(weeks=4),
    citation=(
        "community clinics: boosters about every 4–6 weeks [Clinic-NY] [Clinic-WVKIT] "
        "(secondary; not evidence)"
    ),
)
EVERY_6_WEEKS = MaintenanceOption(
    kind=MaintenanceKind.FIXED_INTERVAL,
    label="Every 6 weeks",
    interval=dt.timedelta(weeks=6),
    citation=(
        "community clinics: boosters about every 4–6 weeks [Clinic-NY] [Clinic-WVKIT] "
        "(secondary; not evidence)"
    ),
)
ON_RELAPSE_MIN_7_DAYS = MaintenanceOption(
    kind=MaintenanceKind.SYMPTOM_TRIGGERED,
    label="On confirmed relapse, at least 7 days apart",
    min_gap=dt.timedelta(weeks=1),
    citation=(
        "symptom-triggered boosters are common practice with no trial-validated trigger "
        "(unconfirmed); 7 days is the shortest published maintenance interval, weekly "
        "[Phillips2019] (unconfirmed as a minimum gap)"
    ),
)
EXAMPLE_OPTIONS = (
    WEEKLY_X4,
    WEEKLY_X4_THEN_FORTNIGHTLY_X2,
    EVERY_4_WEEKS,
    EVERY_6_WEEKS,
    ON_RELAPSE_MIN_7_DAYS,
)


@dataclass(frozen=True)
class Booster:
    """One due booster: ``number`` from 1, due on ``due_on``, bookable from ``earliest_on``
    to ``latest_on`` (inclusive), and why it is due."""

    number: int
    due_on: dt.date
    earliest_on: dt.date
    latest_on: dt.date
    reason: str


def plan_boosters(
    option: MaintenanceOption,
    *,
    last_infusion_on: dt.date,
    until: dt.date,
    window_days: int = 3,  # clinic default (unconfirmed): no source gives a booking window
    relapse_confirmed_on: dt.date | None = None,
    last_booster_on: dt.date | None = None,
) -> tuple[Booster, ...]:
    """Return the boosters ``option`` makes due on or before ``until``.

    ``last_infusion_on`` is the day of the last induction infusion.
    - FIXED_INTERVAL: every ``interval`` counted from the last induction infusion (a late
      booster does not move the later ones: the grid stays anchored, our choice,
      unconfirmed).
    - TAPER: each step's boosters in order, each ``interval`` after the one before (the first
      after the last induction infusion), then none: a taper ends.
    - SYMPTOM_TRIGGERED: when a relapse is confirmed after the last booster (if any), one
      booster due on the later of ``relapse_confirmed_on`` and (``last_booster_on`` or
      ``last_infusion_on``) + ``min_gap``; otherwise none. A relapse confirmed on or before
      ``last_booster_on`` counts as already treated by that booster.
    Each booster may be booked ``window_days`` either side of its due day, except that a
    scheduled booster's window never reaches back to the previous booster's due day (or the
    last infusion), and a symptom-triggered booster's window opens on its due day, because
    ``min_gap`` is a floor and a booster before the relapse is confirmed is not triggered.
    ``number`` counts the boosters this plan makes due, from 1.

    Raises OutOfRange naming ``window_days`` when it is negative or not an ``int``;
    ClinicalValueError naming ``relapse_confirmed_on`` or ``last_booster_on`` when it is
    before the last induction infusion.
    """
    if isinstance(window_days, bool) or not isinstance(window_days, int) or window_days < 0:
        raise OutOfRange(
            "window_days", f"window_days must be a whole number, 0 or more; got {window_days!r}"
        )
    for field, day in (
        ("relapse_confirmed_on", relapse_confirmed_on),
        ("last_booster_on", last_booster_on),
    ):
        if day is not None and day < last_infusion_on:
            raise ClinicalValueError(
                field,
                f"{field} must be on or after the last induction infusion "
                f"{last_infusion_on.isoformat()}; got {day.isoformat()}",
            )
    window = dt.timedelta(days=window_days)
    if option.kind == MaintenanceKind.SYMPTOM_TRIGGERED:
        return _triggered_booster(
            option,
            last_infusion_on=last_infusion_on,
            until=until,
            window=window,
            relapse_confirmed_on=relapse_confirmed_on,
            last_booster_on=last_booster_on,
        )
    boosters: list[Booster] = []
    previous = last_infusion_on
    for due_on, reason in _scheduled(option, last_infusion_on=last_infusion_on):
        if due_on > until:
            break
        boosters.append(
            Booster(
                number=len(boosters) + 1,
                due_on=due_on,
                earliest_on=max(due_on - window, previous + _ONE_DAY),
                latest_on=due_on + window,
                reason=reason,
            )
        )
        previous = due_on
    return tuple(boosters)


def recommend(
    *,
    responded: bool,
    remitted: bool,
    relapsed: bool,
    days_to_relapse: int | None,
    options: Sequence[MaintenanceOption],
    partial: bool = False,
    extend_up_to: int | None = None,
) -> tuple[MaintenanceOption | None, str]:
    """Suggest a maintenance option for the post-induction review, with the reason and sources.

    A decision aid, not a published algorithm (unconfirmed); the prescriber decides.
    ``responded``, ``remitted`` and ``partial`` (a partial response: below the response
    level, above the protocol's partial-response fraction) are judged by the protocol's own
    rules (``Protocol.outcome_rules``). ``extend_up_to``: the protocol lets this patient's
    series be extended up to that many infusions in all (None: it does not).
    - Partial response: no maintenance yet; extend the series when ``extend_up_to`` allows
      (some patients respond only after 3 or more infusions [Shiroma2014]), else prescriber
      review.
    - No response (and no remission, which implies response): no maintenance; prescriber
      review. Few reports describe response after more than 3 infusions without an earlier
      one [Sanacora2017-medscape] (clinical-facts §2a, §4c); an extension is named when
      ``extend_up_to`` allows it.
    - Response or remission: among the scheduled options (fixed interval or taper, in
      ``options`` order), the one with the *longest* first interval still shorter than the
      expected time to relapse, i.e. dosing "a little before the effect of the previous
      session is expected to wear off" [Andrade2017]. The expected time is the observed
      ``days_to_relapse`` when the patient relapsed and it is known, otherwise
      ``EXPECTED_DAYS_TO_RELAPSE`` (16 days; median 18 [Murrough2013], mean 16 [Shiroma2014]).
      Ties go to the earlier option.
    - When no scheduled option is short enough: the first symptom-triggered option if offered
      (no trial-validated trigger, clinical-facts §4b, unconfirmed), else none and prescriber
      review.

    Raises ClinicalValueError naming ``relapsed`` for a relapse without a response,
    ``partial`` for a partial response with a response, and ``days_to_relapse`` when it is
    given without a relapse; OutOfRange naming ``days_to_relapse`` when it is negative or not
    an ``int``.
    """
    responded = responded or remitted
    _check_review(responded=responded, relapsed=relapsed, days_to_relapse=days_to_relapse)
    if partial and responded:
        raise ClinicalValueError(
            "partial", "a partial response is below the response level; got both"
        )
    extend = (
        ""
        if extend_up_to is None
        else (
            f" The protocol allows extending the series up to {extend_up_to} infusions in all; "
            "some patients respond only after 3 or more infusions [Shiroma2014]."
        )
    )
    if partial:
        return None, (
            "Partial response after induction: not a response, so no maintenance yet; "
            f"{'consider extending the series' if extend else 'prescriber review'}.{extend} "
            f"{DECISION_AID}"
        )
    if not responded:
        return None, (
            "No response after induction: no maintenance; prescriber review. Few reports "
            "describe response after more than 3 infusions when there was none before "
            f"[Sanacora2017-medscape].{extend} {DECISION_AID}"
        )
    if days_to_relapse is not None:
        target = days_to_relapse
        expected = f"relapse seen {days_to_relapse} days after the series in this patient"
    else:
        target = EXPECTED_DAYS_TO_RELAPSE
        expected = (
            f"expected relapse about {EXPECTED_DAYS_TO_RELAPSE} days after the series (median "
            "18 days [Murrough2013]; mean 16 days among relapsers [Shiroma2014])"
        )
    state = "Remission" if remitted else "Response"
    if relapsed:
        state += " then relapse"
    best: tuple[dt.timedelta, MaintenanceOption] | None = None
    for option in options:
        first = option.first_interval
        if (
            first is not None
            and first < dt.timedelta(days=target)
            and (best is None or first > best[0])
        ):
            best = (first, option)
    if best is not None:
        first, chosen = best
        return chosen, (
            f"{state}: {chosen.label}, first booster {first.days} days after the series, before "
            f'the {expected}; boosters "a little before the effect of the previous session is '
            f'expected to wear off" [Andrade2017]. {DECISION_AID}'
        )
    triggered = next(
        (option for option in options if option.kind == MaintenanceKind.SYMPTOM_TRIGGERED),
        None,
    )
    if triggered is not None:
        return triggered, (
            f"{state}: no scheduled option starts before the {expected}; {triggered.label} "
            "instead (no trial-validated symptom trigger exists; clinical-facts §4b, "
            f"unconfirmed). {DECISION_AID}"
        )
    return None, (
        f"{state}: no offered option starts before the {expected}; prescriber review. "
        f"{DECISION_AID}"
    )


def _check_review(*, responded: bool, relapsed: bool, days_to_relapse: int | None) -> None:
    if relapsed and not responded:
        raise ClinicalValueError(
            "relapsed", "a relapse follows a response; got relapsed without response"
        )
    if days_to_relapse is not None:
        if not relapsed:
            raise ClinicalValueError(
                "days_to_relapse", f"days_to_relapse needs a relapse; got {days_to_relapse!r}"
            )
        if (
            isinstance(days_to_relapse, bool)
            or not isinstance(days_to_relapse, int)
            or days_to_relapse < 0
        ):
            raise OutOfRange(
                "days_to_relapse",
                f"days_to_relapse must be a whole number, 0 or more; got {days_to_relapse!r}",
            )


def _scheduled(
    option: MaintenanceOption, *, last_infusion_on: dt.date
) -> Iterator[tuple[dt.date, str]]:
    """Yield a fixed-interval or taper plan's due days in order, with their reasons."""
    if option.kind == MaintenanceKind.TAPER:
        due_on = last_infusion_on
        for number, (count, interval) in enumerate(option.steps, start=1):
            for nth in range(1, count + 1):
                due_on += interval
                reason = (
                    f"{option.label}: step {number}, booster {nth} of {count}, every "
                    f"{interval.days} days"
                )
                yield due_on, reason
        return
    interval = option.interval or _ONE_DAY  # set for a fixed-interval plan (__post_init__)
    since = f"the last induction infusion on {last_infusion_on.isoformat()}"
    nth = 0
    while True:  # the caller stops at its ``until``
        nth += 1
        reason = f"{option.label}: {nth * interval.days} days after {since}"
        yield last_infusion_on + nth * interval, reason


def _triggered_booster(
    option: MaintenanceOption,
    *,
    last_infusion_on: dt.date,
    until: dt.date,
    window: dt.timedelta,
    relapse_confirmed_on: dt.date | None,
    last_booster_on: dt.date | None,
) -> tuple[Booster, ...]:
    if relapse_confirmed_on is None or (
        last_booster_on is not None and relapse_confirmed_on <= last_booster_on
    ):
        return ()
    min_gap = option.min_gap or _ONE_DAY  # set for a symptom-triggered plan (__post_init__)
    min_days = dt.timedelta(days=-(-min_gap // _ONE_DAY))
    previous, what = (
        (last_infusion_on, "the last induction infusion")
        if last_booster_on is None
        else (last_booster_on, "the last booster")
    )
    due_on = max(relapse_confirmed_on, previous + min_days)
    if due_on > until:
        return ()
    return (
        Booster(
            number=1,
            due_on=due_on,
            earliest_on=due_on,
            latest_on=due_on + window,
            reason=(
                f"{option.label}: relapse confirmed on {relapse_confirmed_on.isoformat()}; at "
                f"least {_gap_text(min_gap, min_days)} after {what} on {previous.isoformat()}"
            ),
        ),
    )


def _gap_text(min_gap: dt.timedelta, min_days: dt.timedelta) -> str:
    if min_gap == min_days:
        return f"{min_days.days} days"
    return f"{min_gap / dt.timedelta(hours=1):g} h (rounded up to {min_days.days} days)"
