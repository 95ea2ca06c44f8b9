"""Reads of the infusion record."""

from dataclasses import dataclass
from decimal import Decimal

from sustain.accounts.access import require_permission
from sustain.accounts.enums import DataCategory
from sustain.accounts.models import User
from sustain.care.models import Course
from sustain.care.rules import current_rules
from sustain.infusion import services
from sustain.infusion.models import InfusionRecord
from sustain.scheduling import queries as scheduling_queries
from sustain.scheduling.models import Appointment
from sustain_core import dosing, protocols
from sustain_core.errors import ClinicalValueError


def get_visit_for_change(user: User, appointment_id: int, perm: str) -> Appointment:
    """A visit at one of the user's sites, to act on (`perm`); the service audits the write,
    and a page that shows the record records the read (care.queries.record_patient_read)."""
    require_permission(user, perm, category=DataCategory.INFUSION)
    return scheduling_queries.get_appointment_for_user(user, appointment_id)


DOSES = "infusion.view_infusionrecord"  # doses planned and given, titration


@dataclass(frozen=True)
class DoseView:
    """The doses of a course as the patient page shows them: the next visit's plan (or why
    there is none), what each visit was given, the course's totals and the titration the
    protocol suggests."""

    next_plan: dosing.DosePlan | dosing.HourlyDosePlan | None
    next_plan_refused: str
    given: dict[int, InfusionRecord]  # by appointment id
    course_total: tuple[int, Decimal, Decimal] | None
    titration: protocols.TitrationDecision | None
    weight_basis: str


def dose_view(
    user: User, course: Course | None, *, next_visit: Appointment | None, responded: bool
) -> DoseView | None:
    """The course's doses, or None for a role that may not see doses (nothing is loaded)."""
    if course is None or not user.has_perm(DOSES):
        return None
    next_plan, refused = None, ""
    rules = current_rules(course.patient.site).as_rules()
    if next_visit is not None:
        try:
            next_plan = services.plan_dose(
                appointment=next_visit,
                vial_mg_per_ml=dosing.ALLOWED_VIAL_MG_PER_ML[-1],
                rules=rules,
            )
        except ClinicalValueError as error:
            refused = error.message
    return DoseView(
        next_plan=next_plan,
        next_plan_refused=refused,
        given={r.appointment_id: r for r in InfusionRecord.objects.filter(course=course)},
        course_total=services.course_dose_total(course),
        titration=services.titration_suggestion(course, responded=responded),
        weight_basis=rules.dosing_weight_basis,
    )
