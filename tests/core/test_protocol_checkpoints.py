"""A protocol's checkpoints: the futility review and extending the series (issue 11, item 4)."""

from dataclasses import replace
from decimal import Decimal

import pytest

from sustain_core.errors import ClinicalValueError, OutOfRange
from sustain_core.outcomes import Outcome
from sustain_core.protocols import (
    ExtensionFor,
    check_extension,
    futility_review,
    get_protocol,
    scored_before_next_infusion,
)

pytestmark = pytest.mark.core

DEPRESSION = get_protocol("depression-induction", 1)  # PHQ-9, futility after 3, up to 12
PTSD = get_protocol("ptsd-feder-2021", 1)  # PCL-5, ≥ 30 %, futility after 3, no extension


# --- futility review ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "given", "base", "latest", "expected"),
    [
        pytest.param(DEPRESSION, 2, 20, 16, None, id="before-the-checkpoint"),
        pytest.param(DEPRESSION, 3, 20, 10, None, id="responded-50pct"),
        pytest.param(DEPRESSION, 3, 20, 4, None, id="remitted"),
        pytest.param(PTSD, 3, 50, 34, None, id="ptsd-50-to-34-responded-at-30pct"),
        pytest.param(
            DEPRESSION, 3, 20, 16,
            "3 infusions given (the protocol's futility checkpoint is 3) and no response on "
            "PHQ-9: baseline 20, latest 16 (-20.0 %); response is ≥ 50 % below baseline (10 or "
            "less). Few reports describe response after more than 3 infusions when none came "
            "before [Sanacora2017-medscape]. Decide: continue, stop or extend.",
            id="no-response-names-the-numbers",
        ),
        pytest.param(
            DEPRESSION, 4, Decimal("20.00"), Decimal("13.00"),
            "4 infusions given (the protocol's futility checkpoint is 3) and partial response "
            "on PHQ-9: baseline 20, latest 13 (-35.0 %); response is ≥ 50 % below baseline (10 "
            "or less). Few reports describe response after more than 3 infusions when none "
            "came before [Sanacora2017-medscape]. Decide: continue, stop or extend.",
            id="partial-response-after-the-checkpoint",
        ),
        pytest.param(
            PTSD, 3, 50, None,
            "3 infusions given (the protocol's futility checkpoint is 3) and no PCL-5 score "
            "after infusion 3 shows a response (baseline 50); response is ≥ 30 % below "
            "baseline. Few reports describe response after more than 3 infusions when none "
            "came before [Sanacora2017-medscape]. Decide: continue, stop or extend.",
            id="no-score-after-the-checkpoint",
        ),
        pytest.param(
            PTSD, 3, None, None,
            "3 infusions given (the protocol's futility checkpoint is 3) and no baseline "
            "PCL-5, so no response can be shown. Few reports describe response after more "
            "than 3 infusions when none came before [Sanacora2017-medscape]. Decide: "
            "continue, stop or extend.",
            id="no-baseline",
        ),
        pytest.param(
            replace(DEPRESSION, futility_after=None), 6, 20, 20, None, id="no-checkpoint"
        ),
    ],
)  # fmt: skip
def test_futility_review(protocol, given, base, latest, expected) -> None:
    due = futility_review(protocol, infusions_given=given, baseline_score=base, latest_score=latest)

    assert due == expected


@pytest.mark.parametrize("given", [-1, True, 2.0])
def test_futility_review_refuses_a_bad_count(given) -> None:
    with pytest.raises(OutOfRange) as raised:
        futility_review(DEPRESSION, infusions_given=given, baseline_score=20, latest_score=16)
    assert raised.value.field == "infusions_given"


@pytest.mark.parametrize(
    ("protocol", "expected"),
    [
        pytest.param(DEPRESSION, True, id="phq9-before-each-infusion"),
        pytest.param(PTSD, False, id="ptsd-pcl5-only-at-baseline-and-after"),
        pytest.param(get_protocol("murrough-2013", 1), True, id="madrs-before-each"),
        pytest.param(replace(DEPRESSION, futility_after=None), False, id="no-checkpoint"),
    ],
)
def test_scored_before_next_infusion(protocol, expected) -> None:
    assert scored_before_next_infusion(protocol) is expected


# --- extension ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "outcome", "infusions", "extra"),
    [
        pytest.param(DEPRESSION, Outcome.PARTIAL_RESPONSE, 6, 6, id="partial-to-12"),
        pytest.param(DEPRESSION, Outcome.NO_RESPONSE, 6, 3, id="late-responder"),
        pytest.param(DEPRESSION, Outcome.PARTIAL_RESPONSE, 9, 3, id="second-extension-to-12"),
        pytest.param(
            replace(DEPRESSION, extension_for=ExtensionFor.PARTIAL),
            Outcome.PARTIAL_RESPONSE, 6, 1, id="partial-only-protocol-partial",
        ),
    ],
)  # fmt: skip
def test_check_extension_allows(protocol, outcome, infusions, extra) -> None:
    check_extension(protocol, outcome=outcome, infusions=infusions, extra=extra)  # no refusal


@pytest.mark.parametrize(
    ("protocol", "outcome", "infusions", "extra", "field", "message"),
    [
        pytest.param(
            PTSD, Outcome.PARTIAL_RESPONSE, 6, 1, "protocol",
            "PTSD (Feder 2021): 6 infusions over 2 weeks, 0.5 mg/kg over 40 min allows no "
            "extension of the series",
            id="no-extension-in-the-protocol",
        ),
        pytest.param(
            DEPRESSION, Outcome.PARTIAL_RESPONSE, 6, 0, "extra",
            "book at least 1 more infusion; got 0", id="zero",
        ),
        pytest.param(
            DEPRESSION, Outcome.PARTIAL_RESPONSE, 6, 7, "extra",
            "at most 6 more at a time: the extension is booked as a series under the "
            "protocol's rules (6 within 21 days); extend again for more",
            id="more-than-a-series",
        ),
        pytest.param(
            DEPRESSION, Outcome.PARTIAL_RESPONSE, 9, 4, "extra",
            "the protocol allows at most 12 induction infusions in all; 9 are given or "
            "booked, so at most 3 more",
            id="beyond-the-maximum",
        ),
        pytest.param(
            DEPRESSION, Outcome.PARTIAL_RESPONSE, 12, 1, "extra",
            "the protocol allows at most 12 induction infusions in all; 12 are given or "
            "booked, so no more can be booked",
            id="at-the-maximum",
        ),
        pytest.param(
            DEPRESSION, Outcome.RESPONSE, 6, 3, "outcome",
            "the patient's PHQ-9 shows response: sign the post-induction review and choose "
            "maintenance; an extension is for partial and late responders",
            id="responder",
        ),
        pytest.param(
            DEPRESSION, Outcome.REMISSION, 6, 3, "outcome",
            "the patient's PHQ-9 shows remission: sign the post-induction review and choose "
            "maintenance; an extension is for partial and late responders",
            id="remitter",
        ),
        pytest.param(
            replace(DEPRESSION, extension_for=ExtensionFor.PARTIAL),
            Outcome.NO_RESPONSE, 6, 3, "outcome",
            "this protocol extends partial responders only (PHQ-9 at least 25 % below "
            "baseline); the latest score shows no response",
            id="non-partial-where-the-protocol-says-so",
        ),
        pytest.param(
            DEPRESSION, None, 6, 3, "outcome",
            "no PHQ-9 score since the baseline shows how the patient is doing: record one "
            "before extending the series",
            id="no-score",
        ),
        pytest.param(
            DEPRESSION, Outcome.NOT_CLASSIFIABLE, 6, 3, "outcome",
            "no PHQ-9 score since the baseline shows how the patient is doing: record one "
            "before extending the series",
            id="not-classifiable",
        ),
    ],
)  # fmt: skip
def test_check_extension_refuses(protocol, outcome, infusions, extra, field, message) -> None:
    with pytest.raises(ClinicalValueError) as raised:
        check_extension(protocol, outcome=outcome, infusions=infusions, extra=extra)

    assert (raised.value.field, raised.value.message) == (field, message)


def test_check_extension_refuses_a_count_that_is_not_a_whole_number() -> None:
    with pytest.raises(OutOfRange) as raised:
        check_extension(DEPRESSION, outcome=Outcome.NO_RESPONSE, infusions=6, extra=True)
    assert raised.value.message == "book at least 1 more infusion; got True"
