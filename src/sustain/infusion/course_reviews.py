"""The prescriber's review tasks an infusion given makes due (issue 11, item 4): the futility
review at the protocol's checkpoint, and the review when a finite maintenance plan (a taper)
has ended. Each is raised once per course (care.services.raise_review_task) and names the
numbers; the prescriber closes it with a decision."""

import datetime as dt

from sustain.accounts.models import User
from sustain.care import protocol_versions
from sustain.care import queries as care_queries
from sustain.care import services as care
from sustain.care.enums import AlertKind, CourseStatus
from sustain.care.models import Alert, Course
from sustain.infusion.models import InfusionRecord
from sustain.infusion.services import course_measures
from sustain_core import protocols

_INDUCTION = (CourseStatus.INDUCTION, CourseStatus.REVIEW)
_MAINTENANCE = (CourseStatus.MAINTENANCE, CourseStatus.RELAPSED)


def after_infusion(course: Course, *, by: User, at: dt.datetime) -> Alert | None:
    """Raise the review task the infusion just given makes due, if any (one transaction with
    the infusion: the chair-side record's start calls this)."""
    course.refresh_from_db(
        fields=["status", "extended_to", "maintenance_started_at", "futility_checkpoint_at"]
    )
    if course.status in _INDUCTION:
        return _futility(course, by=by, at=at)
    if course.status in _MAINTENANCE:
        return _taper_end(course, by=by, at=at)
    return None


def _futility(course: Course, *, by: User, at: dt.datetime) -> Alert | None:
    """The futility review (sustain_core.protocols.futility_review [Sanacora2017-medscape]),
    judged by the protocol's own response fraction on the score that shows the effect of its
    ``futility_after`` infusions:

    - at the checkpoint's infusion, the course notes it (care.services.reach_futility_checkpoint)
      and the first outcome score after it is judged as it is recorded (before the next
      infusion, where the plan asks for one); a plan that asks for none before the next
      infusion (the PTSD protocol's PCL-5) is judged now, on the latest score so far;
    - at the next infusion, a course still without an outcome score since the checkpoint is
      judged on none (no response shown)."""
    protocol = protocol_versions.protocol_for(course)
    given = InfusionRecord.objects.filter(course=course).count()
    after = protocol.futility_after
    if after is None:
        return None
    if given == after:
        care.reach_futility_checkpoint(course=course, at=at)
        if protocols.scored_before_next_infusion(protocol):
            return None
        primary = care_queries.primary_measure(course_measures(course), protocol)
        latest = primary.latest if primary and primary.latest is not primary.baseline else None
        return care.judge_futility(
            course=course, infusions_given=given, latest=latest, by=by, at=at
        )
    checkpoint = course.futility_checkpoint_at
    if given != after + 1 or checkpoint is None:
        return None
    if course.assessments.filter(
        instrument=protocol.instrument, completed_at__gt=checkpoint
    ).exists():
        return None  # judged as it was recorded
    return care.judge_futility(course=course, infusions_given=given, latest=None, by=by, at=at)


def _taper_end(course: Course, *, by: User, at: dt.datetime) -> Alert | None:
    """When the last booster of a finite maintenance plan (a taper, e.g. weekly ×4
    [Phillips2019]) has been given, nothing follows it: the prescriber reviews the course
    (issue 11). Boosters are the infusions given since maintenance started."""
    review = course.reviews.first()
    if review is None or not review.plan or course.maintenance_started_at is None:
        return None
    option = protocols.maintenance_option_from_dict(review.plan)
    total = option.total_boosters
    given = InfusionRecord.objects.filter(
        course=course, confirmed_at__gte=course.maintenance_started_at
    ).count()
    if total is None or given != total:
        return None
    protocol = protocol_versions.protocol_for(course)
    primary = care_queries.primary_measure(course_measures(course), protocol)
    latest = ""
    if primary is not None and primary.latest is not None:
        base = primary.baseline
        latest = (
            f" Latest {primary.instrument.short_title}: {primary.latest.total_score.normalize():f}"
            f"{f' (baseline {base.total_score.normalize():f})' if base else ''}."
        )
    detail = (
        f'The maintenance plan "{option.label}" has ended: its {total} boosters are given, '
        f"the last on {at.astimezone(course.patient.site.tz):%Y-%m-%d}, and nothing follows it."
        f"{latest} Decide: continue (boosters when needed), another plan, or complete the course."
    )
    return care.raise_review_task(
        course=course, kind=AlertKind.TAPER_END_REVIEW, detail=detail, by=by, at=at
    )
