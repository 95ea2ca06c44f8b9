from django.db import models


class AdverseEventKind(models.TextChoices):
    """Adverse events reported with IV ketamine (clinical-facts §5e: [Rodrigues2020]
    [Singh2016] [Ketalar-label]); "other" takes a description."""

    DROWSINESS = "drowsiness", "Drowsiness"
    DIZZINESS = "dizziness", "Dizziness"
    DISSOCIATION = "dissociation", "Dissociation"
    NAUSEA = "nausea", "Nausea or vomiting"
    HEADACHE = "headache", "Headache"
    ANXIETY = "anxiety", "Anxiety"
    HYPERTENSION = "hypertension", "Blood pressure rise"
    TACHYCARDIA = "tachycardia", "Tachycardia"
    EMERGENCE = "emergence", "Emergence reaction"
    VISUAL = "visual", "Diplopia or nystagmus"
    OTHER = "other", "Other"


class AdverseEventSeverity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"


class Stage(models.TextChoices):
    """Where a visit's chair-side record is (sustain_core.infusion_day.Stage)."""

    CHECKING_IN = "checking_in", "Checking in"
    READY = "ready", "Ready to start"
    INFUSING = "infusing", "Infusing"
    STOPPED = "stopped", "Stopped: a prescriber decides"
    RECOVERING = "recovering", "Recovering"
    DISCHARGED = "discharged", "Discharged"
    SIGNED = "signed", "Signed by the nurse"
    COSIGNED = "cosigned", "Co-signed and locked"


class PregnancyTest(models.TextChoices):
    """sustain_core.infusion_day.PregnancyTest."""

    NOT_APPLICABLE = "not_applicable", "Not applicable"
    NEGATIVE = "negative", "Negative"
    POSITIVE = "positive", "Positive"
    NOT_DONE = "not_done", "Not done yet"


class EventKind(models.TextChoices):
    """A timed entry on the record: what was done during the infusion and recovery."""

    STOP = "stop", "Infusion stopped"
    RESUME = "resume", "Infusion resumed (prescriber)"
    RATE_CHANGE = "rate_change", "Pump rate changed"
    MEDICATION = "medication", "Medication given"
    NOTE = "note", "Note"
    UNDO = "undo", "Step undone"
