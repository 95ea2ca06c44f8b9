"""Named exceptions raised by the clinical rules.

Every error names the field it is about, so the Django layer can attach the message to the
right form field or API error without parsing text. Subclasses are named for what went wrong
in the clinic's words (``OutOfRange``, ``NoSeriesFound``) rather than with an ``Error`` suffix.
"""


class ClinicalValueError(ValueError):
    """A clinical value was rejected; ``field`` names it and ``message`` says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvalidAnswer(ClinicalValueError):
    """A questionnaire answer is missing or outside the instrument's answer range."""


class OutOfRange(ClinicalValueError):
    """A number lies outside the range the rule accepts."""


class NoSeriesFound(ClinicalValueError):
    """No series of visits satisfies the scheduling constraints."""


class OutsideOpeningHours(ClinicalValueError):
    """A visit does not fit within the site's opening hours."""


class RulesBroken(ClinicalValueError):
    """Several rules are broken at once: ``errors`` holds each refusal, in the order found.

    ``field`` is the first refusal's; ``message`` gives the first message, then each other
    refusal as "field: message", separated by "; ", so ``str()`` names every broken rule.
    """

    def __init__(self, errors: tuple[ClinicalValueError, ...]) -> None:
        first, *rest = errors
        message = "; ".join([first.message, *(f"{e.field}: {e.message}" for e in rest)])
        super().__init__(first.field, message)
        self.errors = errors


class LedgerRefused(ClinicalValueError):
    """A write to the controlled-substance ledger breaks one of its rules; ``rule`` names the
    rule with a stable code (an API answers 409 with it as the error's code). A subclass names
    its usual rule; a raise may name a narrower one (``rule=``)."""

    rule = "ledger_rule"

    def __init__(self, field: str, message: str, *, rule: str = "") -> None:
        super().__init__(field, message)
        self.rule = rule or type(self).rule


class InsufficientStock(LedgerRefused):
    """A ledger write would take a container's balance below zero."""

    rule = "negative_balance"


class ExpiredLot(LedgerRefused):
    """A container's lot is past its expiry date on the day it would be drawn."""

    rule = "expired_lot"


class WitnessNotAllowed(LedgerRefused):
    """The witness of a ledger entry may not witness it (the drawer, another site, a wrong
    password, an inactive account)."""

    rule = "witness_not_allowed"
