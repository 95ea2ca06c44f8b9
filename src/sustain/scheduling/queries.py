import datetime as dt
import zoneinfo
from collections import defaultdict

from django.db.models import Exists, OuterRef, QuerySet

from sustain.accounts.models import Site
from sustain.care.enums import CourseStatus
from sustain.care.models import Course
from sustain.scheduling.enums import AppointmentStatus, VisitPhase
from sustain.scheduling.models import Appointment, Chair


def day_schedule(site: Site, day: dt.date) -> list[tuple[Chair, list[Appointment]]]:
    """Every chair of the site with its visits on `day` (a calendar day in the site's zone)."""
    tz = zoneinfo.ZoneInfo(site.timezone)
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    by_chair: dict[int, list[Appointment]] = defaultdict(list)
    for appointment in (
        Appointment.objects.filter(site=site, starts_at__gte=start, starts_at__lt=end)
        .exclude(status=AppointmentStatus.CANCELLED)
        .select_related("patient", "chair")
    ):
        appointment.next_phase = _next_phase(appointment.phase)  # type: ignore[attr-defined]
        by_chair[appointment.chair_id].append(appointment)
    return [(chair, by_chair[chair.pk]) for chair in site.chairs.all()]


def _next_phase(phase: str) -> VisitPhase | None:
    order = list(VisitPhase)
    position = order.index(VisitPhase(phase)) + 1 if phase else 0
    return order[position] if position < len(order) else None


def waiting_courses(sites: QuerySet[Site]) -> list[Course]:
    """Courses waiting for their induction series: screening or ready, no visit booked."""
    booked = Appointment.objects.filter(course=OuterRef("pk")).exclude(
        status=AppointmentStatus.CANCELLED
    )
    return list(
        Course.objects.filter(
            patient__site__in=sites, status__in=[CourseStatus.SCREENING, CourseStatus.READY]
        )
        .exclude(Exists(booked))
        .select_related("patient__site")
        .order_by("enrolled_at")
    )
