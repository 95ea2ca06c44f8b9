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


class Rule(models.TextChoices):
    """The rules a ledger write can break, each a stable code: a refusal
    (sustain_core.errors.LedgerRefused) names one, and the API answers 409 with it as the
    error's code. The label says what the rule refuses."""

    NEGATIVE_BALANCE = (
        "negative_balance",
        "the container holds less than the amount taken: a balance never goes below zero",
    )
    EXCEEDS_DRAWN = (
        "exceeds_drawn",
        "a waste of more than was drawn from the container for the visit and not yet given "
        "or wasted (or nothing was drawn from it)",
    )
    EXPIRED_LOT = (
        "expired_lot",
        "the lot is past its expiry on the site's day (a draw), or expired before it was "
        "received (a receipt)",
    )
    LOT_EXPIRY_MISMATCH = (
        "lot_expiry_mismatch",
        "a receipt gives a lot already recorded with another expiry date",
    )
    SITE_NOT_REGISTERED = (
        "site_not_registered",
        "the site has no DEA registration number recorded, so it cannot receive stock",
    )
    DATED_AFTER_TODAY = "dated_after_today", "a receipt dated after the site's today"
    WRONG_SITE = "wrong_site", "the container is at another site than the visit"
    SAME_LOCATION = "same_location", "a transfer to the location the container is already at"
    NOT_SEALED = (
        "not_sealed",
        "a return to the supplier or a move to another site of a container opened or partly "
        "used: only a sealed, full container leaves its registered location",
    )
    VISIT_CANCELLED = "visit_cancelled", "a draw for a visit cancelled or missed"
    VISIT_NOT_TODAY = "visit_not_today", "a draw for a visit on another day than today"
    WITNESS_IS_SELF = "witness_is_self", "the witness is the person recording the waste"
    WITNESS_IS_DRAWER = "witness_is_drawer", "the witness drew for the visit"
    WITNESS_NOT_ALLOWED = (
        "witness_not_allowed",
        "the witness is not an active nurse or prescriber on the staff of the visit's site",
    )
    WITNESS_PASSWORD = "witness_password", "the witness's password is not correct"
    COUNT_INCOMPLETE = (
        "count_incomplete",
        "a count that leaves out a container at the location, or names one twice or one not there",
    )


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
