from django.db import models


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    SMS = "sms", "Text message"
    KIOSK = "kiosk", "Clinic tablet (code)"


class OutboxStatus(models.TextChoices):
    HELD = "held", "Held in the outbox (not sent)"
    SENT = "sent", "Sent"
