from django.db import models


class Role(models.TextChoices):
    """Staff roles; each is a Django group whose permissions a migration sets."""

    PRESCRIBER = "prescriber", "Prescriber"
    NURSE = "nurse", "Infusion nurse"
    SCHEDULER = "scheduler", "Scheduler"
    CLINIC_ADMIN = "clinic_admin", "Clinic administrator"
    AUDITOR = "auditor", "Auditor"


class AuditAction(models.TextChoices):
    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"
    LOGIN = "login"
    LOGOUT = "logout"
    LOGIN_FAILED = "login-failed"
    EXPORT = "export"
    WRITE = "write"  # a write a service refused (outcome "refused"): it changed nothing


class AuditOutcome(models.TextChoices):
    SUCCESS = "success"
    DENIED = "denied"
    REFUSED = "refused"  # a service refused the write as entered (ClinicalValueError)


class DataCategory(models.TextChoices):
    """What kind of data an audited action touched (ASTM E2147 granularity)."""

    AUTHENTICATION = "authentication"
    DEMOGRAPHICS = "demographics"
    PATIENT_RECORD = "patient-record"
    COURSE = "course"
    QUESTIONNAIRE = "questionnaire"
    SELF_REPORT = "self-report"
    OUTBOX = "outbox"
    ALERT = "alert"
    SCHEDULE = "schedule"
    INFUSION = "infusion"
    AUDIT = "audit"
    PROTOCOL = "protocol"
    CLINIC_RULES = "clinic-rules"
    STAFF = "staff"
    LEDGER = "ledger"


class Channel(models.TextChoices):
    """How a message or a self-report link reaches a patient."""

    EMAIL = "email", "E-mail"
    SMS = "sms", "Text message"
    KIOSK = "kiosk", "Clinic tablet (code)"


class OutboxStatus(models.TextChoices):
    """Where a message is on its way (sustain.accounts.notify)."""

    QUEUED = "queued", "Queued"
    HELD = "held", "Held in the outbox (not sent)"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    DELIVERED = "delivered", "Delivered"
    UNDELIVERED = "undelivered", "Not delivered"
    DEAD = "dead", "Gave up (dead letter)"
