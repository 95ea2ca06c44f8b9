from django.db import models


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"


# The statuses that hold a chair and the patient's time, and that count for the infusion gap
# floor (scheduling.services._check_gap_floor): a cancelled visit or a no-show gave no drug.
OCCUPYING = (AppointmentStatus.BOOKED, AppointmentStatus.COMPLETED)


class VisitPhase(models.TextChoices):
    """Where a booked visit is on the day (the day board shows it)."""

    ARRIVED = "arrived", "Arrived"
    IN_CHAIR = "in_chair", "In chair"
    INFUSING = "infusing", "Infusing"
    RECOVERING = "recovering", "Recovering"
    DISCHARGED = "discharged", "Discharged"


class CancellationReason(models.TextChoices):
    """Coded so cancellations can be reported on."""

    PATIENT_REQUEST = "patient_request", "Patient asked"
    ILLNESS = "illness", "Patient unwell"
    SAFETY_DEFERRAL = "safety_deferral", "Deferred for safety (e.g. blood pressure)"
    CLINIC_CLOSURE = "clinic_closure", "Clinic closed"
    STAFFING = "staffing", "Staffing"
    RESCHEDULED = "rescheduled", "Moved to another time"
    OTHER = "other", "Other"


class Weekday(models.IntegerChoices):
    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


class StaffRole(models.TextChoices):
    """Who a shift is for: nurses carry the patient load, a prescriber is on site."""

    NURSE = "nurse", "Nurse"
    PRESCRIBER = "prescriber", "Prescriber"


class TemplatePhase(models.TextChoices):
    """The planned phases of a visit (sustain_core.protocols.VisitPhaseName)."""

    CHECK_IN = "check_in", "Check-in and pre-infusion checks"
    INFUSION = "infusion", "Infusion"
    RECOVERY = "recovery", "Recovery and observation"
    DISCHARGE = "discharge", "Discharge"


class ChairCapability(models.TextChoices):
    """sustain_core.protocols.ChairCapability, for forms."""

    EXTENDED = "extended", "Extended (fully reclining, for long infusions)"
    CARDIAC_MONITOR = "cardiac_monitor", "Cardiac monitor"
