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
    """What an alert is about. The first four are raised by a score (they name its
    assessment); the review kinds are tasks raised for the course's prescriber at a point in
    the course (they name the course and are closed with a decision, ReviewDecision); a
    severe or serious adverse event at an infusion alerts the course's prescriber (it names
    the course and is acknowledged like a score's alert)."""

    SUICIDE_RISK = "suicide_risk", "Suicide item positive"
    CSSRS_RISK = "cssrs_risk", "C-SSRS moderate or high risk"
    WORSENING = "worsening", "Meaningful worsening"
    MANIA = "mania", "YMRS above the clinic's threshold"
    FUTILITY_REVIEW = "futility_review", "Futility review"
    TAPER_END_REVIEW = "taper_end_review", "Taper ended: review"
    ADVERSE_EVENT = "adverse_event", "Severe or serious adverse event"


# The alert kinds that are the prescriber's tasks on a course, raised once per course.
REVIEW_KINDS = (AlertKind.FUTILITY_REVIEW, AlertKind.TAPER_END_REVIEW)
# The alert kinds that name a course rather than a score.
COURSE_KINDS = (*REVIEW_KINDS, AlertKind.ADVERSE_EVENT)


class ReviewDecision(models.TextChoices):
    """What the prescriber decided at a review task (an Alert of a REVIEW_KINDS kind)."""

    CONTINUE = "continue", "Continue"
    STOP = "stop", "Stop"
    EXTEND = "extend", "Extend the series"
    NEW_PLAN = "new_plan", "Start another maintenance plan"
    COMPLETE = "complete", "Complete the course"


# The decisions each review kind offers: at the futility checkpoint, continue, stop or extend
# the series (issue 11); when a taper ends, continue on boosters when needed, another plan, or
# complete the course.
REVIEW_DECISIONS = {
    AlertKind.FUTILITY_REVIEW: (
        ReviewDecision.CONTINUE, ReviewDecision.STOP, ReviewDecision.EXTEND,
    ),
    AlertKind.TAPER_END_REVIEW: (
        ReviewDecision.CONTINUE, ReviewDecision.NEW_PLAN, ReviewDecision.COMPLETE,
    ),
}  # fmt: skip


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"


class AssessmentSource(models.TextChoices):
    STAFF = "staff", "Entered by staff"
    SELF_REPORT = "self_report", "Patient self-report link"


class ContactChannel(models.TextChoices):
    """How the patient prefers to be reached (issue 13); reminders follow it
    (sustain.care.models.Patient.message_address). Blank: not stated."""

    SMS = "sms", "Text message"
    EMAIL = "email", "E-mail"
    PHONE = "phone", "Phone call"
    NONE = "none", "No messages"


class AllergySeverity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"
    UNKNOWN = "unknown", "Unknown"
