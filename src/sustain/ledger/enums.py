from django.db import models


class EntryKind(models.TextChoices):
    """What a ledger entry records (21 CFR 1304.21: every receipt, administration and disposal;
    clinical-facts.md §8b [CFR1304.21])."""

    RECEIVE = "receive", "Received"
    TRANSFER = "transfer", "Transferred"
    OPEN = "open", "Opened"
    DRAW = "draw", "Drawn for a visit"
    ADMINISTER = "administer", "Administered"
    WASTE = "waste", "Wasted"
    RETURN = "return", "Returned to supplier"
    DESTROY = "destroy", "Destroyed"
    ADJUST = "adjust", "Adjusted"
    CORRECTION = "correction", "Correction"
