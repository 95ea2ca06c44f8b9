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
