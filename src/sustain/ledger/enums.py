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
