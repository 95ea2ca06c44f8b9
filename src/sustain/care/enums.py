from django.db import models

from sustain_core.protocols import Condition as CoreCondition


class Sex(models.TextChoices):
    """Administrative sex (FHIR AdministrativeGender)."""

    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class Condition(models.TextChoices):
    DEPRESSION = CoreCondition.DEPRESSION.value, "Treatment-resistant depression"
    ANXIETY = CoreCondition.ANXIETY.value, "Anxiety"
    PTSD = CoreCondition.PTSD.value, "PTSD"
    CHRONIC_PAIN = CoreCondition.CHRONIC_PAIN.value, "Chronic pain"


class CourseStatus(models.TextChoices):
    """Where a patient is in their course (sustain_core.course.Phase): referred → screening →
    ready → induction → review → maintenance → completed, discontinued or paused."""

    REFERRED = "referred", "Referred"
    SCREENING = "screening", "Screening"
    READY = "ready", "Ready for induction"
    INDUCTION = "induction", "Induction"
    REVIEW = "review", "Post-induction review"
    MAINTENANCE = "maintenance", "Maintenance"
    RELAPSED = "relapsed", "Relapsed"
    COMPLETED = "completed", "Completed"
    DISCONTINUED = "discontinued", "Discontinued"
    PAUSED = "paused", "Paused"


class Timepoint(models.TextChoices):
    BASELINE = "baseline", "Baseline"
    PRE_INFUSION = "pre_infusion", "Before an infusion"
    FOLLOW_UP = "follow_up", "Follow-up"


class AlertKind(models.TextChoices):
    SUICIDE_RISK = "suicide_risk", "Suicide item positive"
    CSSRS_RISK = "cssrs_risk", "C-SSRS moderate or high risk"
    WORSENING = "worsening", "Meaningful worsening"
    MANIA = "mania", "YMRS above the clinic's threshold"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"


class AssessmentSource(models.TextChoices):
    STAFF = "staff", "Entered by staff"
    SELF_REPORT = "self_report", "Patient self-report link"
