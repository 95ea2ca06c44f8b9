"""How a number is written for people: the one formatting rule for every page, PDF, command,
API answer and message.

A ``Decimal`` keeps its exponent, so arithmetic can give ``Decimal("5E+1")`` for fifty, and
``str`` prints it that way ("the CLI printed 5E+1 mg", issue 11). ``plain`` writes every number
in fixed-point notation and never rounds it.
"""

from decimal import Context, Decimal, localcontext


def plain(value: Decimal | int, *, places: int | None = None) -> str:
    """Return a number in fixed-point notation, never scientific, without rounding it.

    Without ``places`` trailing zeros are dropped: ``Decimal("35.00")`` → "35",
    ``Decimal("5E+1")`` → "50", ``Decimal("0.7230")`` → "0.723", ``Decimal("-0")`` → "0".
    With ``places`` at least that many decimals are written, padding with zeros, as a pump
    shows its rate (``Decimal("150")`` → "150.0"); a value with more decimals keeps them all
    (``Decimal("52.125")`` with ``places=1`` → "52.125"), since this is a display, not a
    rounding step.

    Raises ValueError for a value that is not finite (NaN or infinity has no fixed-point form)
    or a negative ``places``.
    """
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    if places is not None and places < 0:
        raise ValueError(f"places must be 0 or more; got {places}")
    # Normalising at the value's own precision drops trailing zeros and never rounds.
    with localcontext(Context(prec=max(len(number.as_tuple().digits), 1))):
        normal = Decimal(0) if number.is_zero() else number.normalize()
    text = format(normal, "f")
    if places:
        whole, _, decimals = text.partition(".")
        text = f"{whole}.{decimals.ljust(places, '0')}"
    return text
