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


class Resolution(models.TextChoices):
    """How a count's discrepancy is closed (issue 12, item 4)."""

    FOUND = "found", "Found: a recount matches the ledger"
    DOCUMENTATION_ERROR = "documentation_error", "Documentation error, corrected in the ledger"
    LOSS_THEFT = "loss_theft", "Loss or theft, reported to the DEA"


class TheftLossKind(models.TextChoices):
    """The type of theft or loss DEA Form 106 asks for (item 10 of the form, OMB 1117-0001).
    "Lost in transit" is left out: the discrepancies here are found by counting the site's own
    stock."""

    NIGHT_BREAK_IN = "night_break_in", "Night break-in"
    ARMED_ROBBERY = "armed_robbery", "Armed robbery"
    EMPLOYEE_PILFERAGE = "employee_pilferage", "Employee pilferage"
    CUSTOMER_THEFT = "customer_theft", "Customer theft"
    OTHER = "other", "Other (explain)"


class InventoryKind(models.TextChoices):
    """21 CFR 1304.11 (clinical-facts.md §8c): an initial inventory when the registrant first
    handles controlled substances, then one at least every 2 years [LegalClarity-biennial]
    [MD-COMAR]."""

    INITIAL = "initial", "Initial inventory"
    BIENNIAL = "biennial", "Biennial inventory"


class BusinessTime(models.TextChoices):
    """An inventory says whether it was taken at the opening or the close of business
    (21 CFR 1304.11(a))."""

    OPENING = "opening", "Opening of business"
    CLOSE = "close", "Close of business"


class CountMethod(models.TextChoices):
    """Exact for every unopened container; an opened Schedule III container may be estimated
    [CFR1971-304.17] (the 1971 text; the current wording is unconfirmed, clinical-facts.md §8c)."""

    EXACT = "exact", "Exact count"
    ESTIMATED = "estimated", "Estimated count"
