"""A protocol's checkpoints on the way through induction: the futility review, and extending
the series for partial and late responders.

``futility_review`` says when the prescriber must review a course that has not responded by
the protocol's ``futility_after`` infusions, with the numbers; ``scored_before_next_infusion``
whether the plan measures that response before the next infusion. A protocol with
``extension_max_infusions`` lets the prescriber book more induction infusions, under the same
series rules, up to that many in all: KetECT gave ketamine thrice weekly for at most 12
sessions [Ekstrand2022], and some patients respond only after 3 or more infusions
[Shiroma2014]; ``check_extension`` says whether an extension may be booked.
"""

from decimal import Decimal
from typing import cast

from sustain_core.errors import ClinicalValueError, OutOfRange
from sustain_core.instruments import get_instrument
from sustain_core.measurement import Anchor
from sustain_core.outcomes import Outcome, OutcomeRules, classify, score_percent_change
from sustain_core.protocols.model import ExtensionFor, Protocol, _percent

_RESPONDING = frozenset({Outcome.RESPONSE, Outcome.REMISSION})


def futility_review(
    protocol: Protocol,
    *,
    infusions_given: int,
    baseline_score: int | Decimal | None,
    latest_score: int | Decimal | None,
) -> str | None:
    """Return why the prescriber must review the course now, with the numbers, or None.

    Due once ``infusions_given`` reaches the protocol's ``futility_after`` without a response
    or remission on its outcome instrument: few reports describe response after more than 3
    infusions when none came before [Sanacora2017-medscape] (a checkpoint to review, not a
    rule to stop). ``baseline_score`` is the outcome instrument's baseline and
    ``latest_score`` the score that shows the effect of the checkpoint's infusions, the first
    one after the ``futility_after``-th infusion (None: there is none, which is not a
    response; see ``scored_before_next_infusion``), both classified under
    ``Protocol.outcome_rules``. None when the protocol has no checkpoint, too few infusions
    were given, or the patient has responded.

    Raises OutOfRange naming ``infusions_given`` when it is negative or not an ``int``.
    """
    if (
        isinstance(infusions_given, bool)
        or not isinstance(infusions_given, int)
        or (infusions_given < 0)
    ):
        raise OutOfRange(
            "infusions_given", f"infusions_given must be 0 or more; got {infusions_given!r}"
        )
    after = protocol.futility_after
    if after is None or infusions_given < after:
        return None
    title = get_instrument(protocol.instrument).short_title
    rules = protocol.outcome_rules(protocol.instrument)  # set: validation requires it
    needed = f"response is ≥ {_percent(protocol.response_fraction)} % below baseline"
    if baseline_score is None:
        seen = f"no baseline {title}, so no response can be shown"
    elif latest_score is None:
        seen = (
            f"no {title} score after infusion {after} shows a response (baseline "
            f"{_plain(baseline_score)}); {needed}"
        )
    else:
        outcome = classify(
            cast(OutcomeRules, rules), baseline_score=baseline_score, current_score=latest_score
        )
        if outcome in _RESPONDING:
            return None
        change = score_percent_change(baseline_score=baseline_score, current_score=latest_score)
        level = Decimal(baseline_score) * (1 - protocol.response_fraction)
        seen = (
            f"{outcome} on {title}: baseline {_plain(baseline_score)}, latest "
            f"{_plain(latest_score)} ({_signed(change)} %); {needed} ({_plain(level)} or less)"
        )
    return (
        f"{infusions_given} infusions given (the protocol's futility checkpoint is {after}) "
        f"and {seen}. Few reports describe response after more than 3 infusions when none "
        "came before [Sanacora2017-medscape]. Decide: continue, stop or extend."
    )


def scored_before_next_infusion(protocol: Protocol) -> bool:
    """Whether the measurement plan asks for the outcome instrument before the infusion after
    the futility checkpoint (a before-each-infusion rule from that infusion or earlier), so
    the response to the checkpoint's infusions is measured before the next one is given.
    When it does not (the PTSD protocol measures the PCL-5 only at baseline and after
    induction), the review cannot wait for that score. False without a checkpoint."""
    after = protocol.futility_after
    return after is not None and any(
        rule.anchor == Anchor.BEFORE_EACH_INFUSION
        and protocol.instrument in rule.instruments
        and rule.from_infusion <= after + 1
        for rule in protocol.measurement_plan
    )


def _plain(value: int | Decimal) -> str:
    return f"{Decimal(value).normalize():f}"


def _signed(change: Decimal | None) -> str:
    return "n/a" if change is None else f"{change:+f}"


def check_extension(
    protocol: Protocol, *, outcome: Outcome | None, infusions: int, extra: int
) -> None:
    """Refuse an extension of ``extra`` infusions the protocol does not allow, in plain words.

    ``outcome`` is the latest score of the protocol's outcome instrument against its baseline
    under the protocol's rules (``Protocol.outcome_rules``; None: no score since the
    baseline); ``infusions`` counts the course's infusions given or booked. In order, refused
    (ClinicalValueError) when:

    - the protocol has no ``extension_max_infusions`` (field ``protocol``);
    - ``extra`` is below 1 (OutOfRange, field ``extra``), or above the protocol's series count
      (``extra``): the extension is booked as a series of its own under the protocol's rules
      (gaps, weekdays, weekly maximum and span), so at most that many at a time;
    - ``infusions + extra`` is above ``extension_max_infusions`` (``extra``);
    - the outcome is unknown (None or NOT_CLASSIFIABLE), a response or a remission, or no
      response when the protocol extends partial responders only (``outcome``).
    """
    most = protocol.extension_max_infusions
    if most is None:
        raise ClinicalValueError("protocol", f"{protocol.title} allows no extension of the series")
    count = protocol.series.count
    if isinstance(extra, bool) or not isinstance(extra, int) or extra < 1:
        raise OutOfRange("extra", f"book at least 1 more infusion; got {extra!r}")
    if extra > count:
        raise ClinicalValueError(
            "extra",
            f"at most {count} more at a time: the extension is booked as a series under the "
            f"protocol's rules ({count} within {protocol.series.max_span.days} days); extend "
            "again for more",
        )
    if infusions + extra > most:
        left = (
            f"so at most {most - infusions} more"
            if infusions < most
            else "so no more can be booked"
        )
        raise ClinicalValueError(
            "extra",
            f"the protocol allows at most {most} induction infusions in all; {infusions} are "
            f"given or booked, {left}",
        )
    title = get_instrument(protocol.instrument).short_title
    if outcome is None or outcome is Outcome.NOT_CLASSIFIABLE:
        raise ClinicalValueError(
            "outcome",
            f"no {title} score since the baseline shows how the patient is doing: record one "
            "before extending the series",
        )
    if outcome in _RESPONDING:
        raise ClinicalValueError(
            "outcome",
            f"the patient's {title} shows {outcome}: sign the post-induction review and choose "
            "maintenance; an extension is for partial and late responders",
        )
    if outcome is Outcome.NO_RESPONSE and protocol.extension_for is ExtensionFor.PARTIAL:
        raise ClinicalValueError(
            "outcome",
            f"this protocol extends partial responders only ({title} at least "
            f"{_percent(protocol.partial_response_fraction)} % below baseline); the latest "
            "score shows no response",
        )
