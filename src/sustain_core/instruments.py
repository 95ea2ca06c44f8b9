"""Validated rating instruments: their definitions as data, and scoring by each published rule.

Every instrument the clinic uses is an ``Instrument`` value in ``INSTRUMENTS``: its items and
answer ranges, severity bands, LOINC codes, licence and sources. ``score(code, answers)`` checks
a response against that definition and applies the instrument's published scoring rule.

Sources are the keys of the clinical-facts reference sheet (§7 for every instrument, §5c
for the CADSS). Anything that the facts mark (unconfirmed) or (secondary), or where the facts
are silent and a choice had to be made here, is said so in the instrument's ``notes`` and in
the docstring of the rule that uses it.

Numbers: totals of whole-number items are ints. Means and scaled sums (BPI-SF, FIQR) are
computed exactly as fractions and returned as ``Decimal``: exact when the decimal expansion
terminates (2.25), otherwise rounded to 0.01 with ROUND_HALF_UP (10/3 → 3.33). A rounded
figure is for display; nothing is rounded before banding.
"""

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from math import floor
from types import MappingProxyType

from sustain_core.errors import ClinicalValueError, InvalidAnswer, OutOfRange


class Rater(StrEnum):
    """Who completes the instrument."""

    SELF = "self"
    CLINICIAN = "clinician"


class Flag(StrEnum):
    """Machine-readable findings a score can carry (``Score.flags``)."""

    SUICIDE_ITEM_POSITIVE = "suicide_item_positive"
    PROVISIONAL_PTSD = "provisional_ptsd"
    CSSRS_MODERATE_RISK = "cssrs_moderate_risk"
    CSSRS_HIGH_RISK = "cssrs_high_risk"
    MANIA_ABOVE_THRESHOLD = "mania_above_threshold"


class CssrsRisk(StrEnum):
    """C-SSRS screener risk level; its rank 0–3 is the screener's ``Score.total``."""

    NONE = "none"
    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"


@dataclass(frozen=True)
class Item:
    """One item of an instrument and the whole-number answers it accepts.

    ``text`` is the wording shown to the respondent, or None where the wording is licensed
    (or unverified) and not shipped; ``label`` is a short name for tables. ``answer_labels[i]``
    labels the answer ``min_value + i``; it is empty when the scale has no published anchor
    for every value.
    """

    key: str
    text: str | None
    label: str
    min_value: int
    max_value: int
    answer_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Band:
    """A severity band with inclusive bounds on the instrument's reported score.

    Published bands are whole numbers. A fractional score (a BPI-SF mean of 4.5) that lies
    between two bands belongs to the lower one: it has not reached the next cut-point.
    """

    low: int | Decimal
    high: int | Decimal
    label: str


@dataclass(frozen=True)
class Mcid:
    """An instrument's minimal clinically important difference (MCID) on its headline score.

    A change is clinically important when it reaches ``points`` **or** ``fraction`` of the
    earlier score (either may be None, not both); ``source`` cites it (clinical-facts §7).
    ``sustain_core.outcomes`` reads it for meaningful change and worsening alerts.

    Raises OutOfRange naming ``mcid`` when neither is set, ``points`` is not above 0 or
    ``fraction`` is not in (0, 1].
    """

    points: int | Decimal | None
    fraction: Decimal | None
    source: str

    def __post_init__(self) -> None:
        if self.points is None and self.fraction is None:
            raise OutOfRange("mcid", "an MCID needs points, a fraction or both; got neither")
        if self.points is not None and not self.points > 0:
            raise OutOfRange("mcid", f"MCID points must be above 0; got {self.points}")
        if self.fraction is not None and not 0 < self.fraction <= 1:
            raise OutOfRange(
                "mcid", f"MCID fraction must be above 0, at most 1; got {self.fraction}"
            )


@dataclass(frozen=True)
class Instrument:
    """A validated instrument: items, score range, bands, codes, licence and sources.

    ``version`` is the version of this definition (bump it when items or scoring change), not
    the publisher's edition. ``title`` is the full name; ``short_title`` ("PHQ-9") is used in
    messages and tables. ``citation`` lists the clinical-facts source keys; ``notes`` says what
    is unconfirmed, secondary or a local choice. ``mcid`` is the minimal clinically important
    difference where clinical-facts gives one, else None (no meaningful-change rule and no
    worsening alert).

    is unconfirmed, secondary or a local choice.

    ``recall`` is the period the questions ask about, in words ("last 2 weeks");
    ``recall_window`` is that period as a duration (0 for "right now"), or None when the
    instrument has no fixed window (the C-SSRS asks "since last contact") or its window is
    unknown; ``recall_source`` cites it or says it is unconfirmed or unknown. Asking again
    before the window has passed overlaps the answers (``protocols.plan_warnings``).
    """

    code: str
    version: str
    title: str
    short_title: str
    rater: Rater
    recall: str
    items: tuple[Item, ...]
    total_min: int | Decimal
    total_max: int | Decimal
    bands: tuple[Band, ...]
    loinc_panel: str | None
    loinc_total: str | None
    licence: str
    citation: str
    notes: str = ""
    mcid: Mcid | None = None
    recall_window: dt.timedelta | None = None
    recall_source: str = "unknown: not in clinical-facts"


@dataclass(frozen=True)
class Score:
    """A scored response.

    ``total`` is the headline score (for the BPI-SF the severity mean; for the C-SSRS screener
    the risk rank 0–3, with the level in ``severity``). ``severity`` is the band label, or None
    when the instrument has no bands. ``flags`` are the ``Flag`` findings, sorted. ``answered``
    counts the items answered; ``prorated`` is True when a published missing-item rule filled
    in.
    """

    instrument: str
    total: int | Decimal
    subscales: Mapping[str, int | Decimal]
    severity: str | None
    flags: tuple[Flag, ...]
    answered: int
    prorated: bool


# --- Definitions -------------------------------------------------------------------------

_FREQUENCY_LABELS = ("Not at all", "Several days", "More than half the days", "Nearly every day")
_PCL5_LABELS = ("Not at all", "A little bit", "Moderately", "Quite a bit", "Extremely")
_NO_YES = ("No", "Yes")


def _numbered(
    labels: Sequence[str],
    *,
    max_value: int,
    texts: Sequence[str] | None = None,
    answer_labels: tuple[str, ...] = (),
) -> tuple[Item, ...]:
    """Return items keyed "1".."n" from their labels (and wording, when shipped)."""
    return tuple(
        Item(
            key=str(number),
            text=None if texts is None else texts[number - 1],
            label=label,
            min_value=0,
            max_value=max_value,
            answer_labels=answer_labels,
        )
        for number, label in enumerate(labels, start=1)
    )


_PHQ9 = Instrument(
    code="phq9",
    version="1",
    title="Patient Health Questionnaire-9 (PHQ-9)",
    short_title="PHQ-9",
    rater=Rater.SELF,
    recall="last 2 weeks",
    items=_numbered(
        (
            "Anhedonia",
            "Depressed mood",
            "Sleep problems",
            "Tiredness",
            "Appetite",
            "Feeling bad about yourself",
            "Concentration",
            "Psychomotor change",
            "Thoughts of death or self-harm",
        ),
        max_value=3,
        texts=(
            "Little interest or pleasure in doing things",
            "Feeling down, depressed, or hopeless",
            "Trouble falling or staying asleep, or sleeping too much",
            "Feeling tired or having little energy",
            "Poor appetite or overeating",
            "Feeling bad about yourself — or that you are a failure or have let yourself or "
            "your family down",
            "Trouble concentrating on things, such as reading the newspaper or watching television",
            "Moving or speaking so slowly that other people could have noticed? Or the "
            "opposite — being so fidgety or restless that you have been moving around a lot "
            "more than usual",
            "Thoughts that you would be better off dead or of hurting yourself in some way",
        ),
        answer_labels=_FREQUENCY_LABELS,
    ),
    total_min=0,
    total_max=27,
    bands=(
        Band(0, 4, "minimal"),
        Band(5, 9, "mild"),
        Band(10, 14, "moderate"),
        Band(15, 19, "moderately severe"),
        Band(20, 27, "severe"),
    ),
    loinc_panel="44249-1",
    loinc_total="44261-6",
    licence="public domain [CamCOPS-PHQ9]",
    citation="[Kroenke2001] [LOINC-FHIR-repos] [CamCOPS-PHQ9]",
    notes=(
        "The suicide_item_positive flag (item 9 > 0) is an implementation requirement and "
        "standard practice, unconfirmed as a published rule (clinical-facts §7, §10.12)."
    ),
    mcid=Mcid(points=5, fraction=None, source="5 points for individual change [Lowe2004]"),
    recall_window=dt.timedelta(days=14),
    recall_source="[Kroenke2001], clinical-facts §7",
)

_GAD7 = Instrument(
    code="gad7",
    version="1",
    title="Generalized Anxiety Disorder-7 (GAD-7)",
    short_title="GAD-7",
    rater=Rater.SELF,
    recall="last 2 weeks",
    items=_numbered(
        (
            "Nervous, anxious or on edge",
            "Uncontrollable worrying",
            "Worrying too much",
            "Trouble relaxing",
            "Restlessness",
            "Irritability",
            "Fear that something awful might happen",
        ),
        max_value=3,
        texts=(
            "Feeling nervous, anxious, or on edge",
            "Not being able to stop or control worrying",
            "Worrying too much about different things",
            "Trouble relaxing",
            "Being so restless that it's hard to sit still",
            "Becoming easily annoyed or irritable",
            "Feeling afraid, as if something awful might happen",
        ),
        answer_labels=_FREQUENCY_LABELS,
    ),
    total_min=0,
    total_max=21,
    bands=(
        Band(0, 4, "minimal"),
        Band(5, 9, "mild"),
        Band(10, 14, "moderate"),
        Band(15, 21, "severe"),
    ),
    loinc_panel="69737-5",
    loinc_total="70274-6",
    licence="public domain [CamCOPS-GAD7]",
    citation="[Spitzer2006] [PHQ-instructions-copy] [LOINC-FHIR-repos] [CamCOPS-GAD7]",
    notes=(
        "Item wording is not in clinical-facts (unconfirmed transcription; some "
        "reproductions read 'it is hard to sit still' in item 5). The zero anchor is "
        "'Not at all' [CamCOPS-GAD7]."
    ),
    mcid=Mcid(points=4, fraction=None, source="4 points [Toussaint2020]"),
    recall_window=dt.timedelta(days=14),
    recall_source="[Spitzer2006], clinical-facts §7",
)

_PCL5 = Instrument(
    code="pcl5",
    version="1",
    title="PTSD Checklist for DSM-5 (PCL-5)",
    short_title="PCL-5",
    rater=Rater.SELF,
    recall="past month",
    items=_numbered(
        (
            "Intrusive memories",
            "Disturbing dreams",
            "Reliving the experience",
            "Upset at reminders",
            "Physical reactions to reminders",
            "Avoiding memories, thoughts or feelings",
            "Avoiding external reminders",
            "Trouble remembering parts of the experience",
            "Strong negative beliefs",
            "Blaming self or others",
            "Strong negative feelings",
            "Loss of interest",
            "Feeling distant from others",
            "Trouble feeling positive feelings",
            "Irritability or aggression",
            "Risk-taking",
            "Being on guard",
            "Jumpy or easily startled",
            "Difficulty concentrating",
            "Trouble sleeping",
        ),
        max_value=4,
        answer_labels=_PCL5_LABELS,
    ),
    total_min=0,
    total_max=80,
    bands=(),
    loinc_panel=None,
    loinc_total=None,
    licence=(
        "public domain: US Government work, VA National Center for PTSD [CamCOPS-PCL5] [PCL5-qxmd]"
    ),
    citation="[PCL5-scoring] [PCL5-clusters] [CamCOPS-PCL5] [PCL5-qxmd]",
    notes=(
        "No empirical severity bands are published [PCL5-scoring]. provisional_ptsd uses the "
        "DSM-5 rule only; the total cut-point (31–33, formerly 38) is not applied because its "
        "value is unsettled. Item wording is public domain but not in clinical-facts and was "
        "not verified against the VA form, so only short labels are shipped (text None). "
        "LOINC unconfirmed."
    ),
    mcid=Mcid(
        points=10,
        fraction=None,
        source="10 points clinically meaningful; 5 = minimum reliable change [PCL5-qxmd]",
    ),
    recall_window=dt.timedelta(days=30),
    recall_source="[PCL5-scoring], clinical-facts §7; a month is counted as 30 days (derived)",
)

_QIDS_SR16 = Instrument(
    code="qids_sr16",
    version="1",
    title="Quick Inventory of Depressive Symptomatology, Self-Report, 16 items (QIDS-SR16)",
    short_title="QIDS-SR16",
    rater=Rater.SELF,
    recall="last 7 days",
    items=_numbered(
        (
            "Falling asleep",
            "Sleep during the night",
            "Waking up too early",
            "Sleeping too much",
            "Feeling sad",
            "Decreased appetite",
            "Increased appetite",
            "Decreased weight",
            "Increased weight",
            "Concentration and decision making",
            "View of myself",
            "Thoughts of death or suicide",
            "General interest",
            "Energy level",
            "Feeling slowed down",
            "Feeling restless",
        ),
        max_value=3,
    ),
    total_min=0,
    total_max=27,
    bands=(
        Band(0, 5, "none"),
        Band(6, 10, "mild"),
        Band(11, 15, "moderate"),
        Band(16, 20, "severe"),
        Band(21, 27, "very severe"),
    ),
    loinc_panel=None,
    loinc_total=None,
    licence="free for clinical and research use (secondary) [QIDS-hiboop]: item text not shipped",
    citation="[GuidelineCentral-QIDS] [QIDS-Rdoc] [IDS-QIDS-interp] [QIDS-hiboop]",
    notes=(
        "Licence is secondary; LOINC unconfirmed. The suicide_item_positive threshold on "
        "item 12 is a clinic setting (default 1, unconfirmed). All 16 items are required: "
        "where the paper form asks for only one of items 6/7 or 8/9 (not in clinical-facts, "
        "unconfirmed), record 0 for the other, which leaves the domain maximum unchanged."
    ),
    recall_window=dt.timedelta(days=7),
    recall_source="[GuidelineCentral-QIDS] [QIDS-Rdoc], clinical-facts §7",
)

_CSSRS_SCREENER = Instrument(
    code="cssrs_screener",
    version="1",
    title="Columbia-Suicide Severity Rating Scale, screener (C-SSRS)",
    short_title="C-SSRS",
    rater=Rater.CLINICIAN,
    recall="since last contact",
    items=(
        *_numbered(
            (
                "Wish to be dead",
                "Non-specific active suicidal thoughts",
                "Suicidal thoughts with method, no plan or intent",
                "Suicidal intent without specific plan",
                "Suicidal intent with specific plan",
                "Suicidal behaviour",
            ),
            max_value=1,
            answer_labels=_NO_YES,
        ),
        Item("6_recent", None, "Suicidal behaviour within past 3 months", 0, 1, _NO_YES),
    ),
    total_min=0,
    total_max=3,
    bands=(
        Band(0, 0, CssrsRisk.NONE.value),
        Band(1, 1, CssrsRisk.LOW.value),
        Band(2, 2, CssrsRisk.MODERATE.value),
        Band(3, 3, CssrsRisk.HIGH.value),
    ),
    loinc_panel=None,
    loinc_total=None,
    licence="unconfirmed: item text not shipped",
    citation="[CSSRS-screen] [CSSRS-form] [CSSRS-summary] [Posner2011]",
    notes=(
        "The triage mapping is secondary [CSSRS-summary] and must be verified against "
        "Columbia's official triage. Behaviour (item 6) more than 3 months ago is triaged "
        "moderate: the facts are silent on it (unconfirmed choice, so that any behaviour is "
        "never triaged below moderate). Answers: 0 = no, 1 = yes. Total is the risk rank "
        "0–3, not a count of yes answers. Licence and LOINC unconfirmed."
    ),
    recall_window=None,
    recall_source=(
        "no fixed window: the screener asks since the last contact [CSSRS-screen], so it is "
        "made to be asked at every contact; item 6 asks about the past 3 months [CSSRS-form]"
    ),
)

_PAIN_NRS = Instrument(
    code="pain_nrs",
    version="1",
    title="Pain intensity numeric rating scale (NRS 0–10)",
    short_title="Pain NRS",
    rater=Rater.SELF,
    recall="right now",
    items=(
        Item(
            "1",
            "How much pain do you have, from 0 (no pain) to 10 (worst possible pain)?",
            "Pain intensity",
            0,
            10,
        ),
    ),
    total_min=0,
    total_max=10,
    bands=(),
    loinc_panel=None,
    loinc_total=None,
    licence="generic scale; no licence stated in clinical-facts (unconfirmed)",
    citation="[Farrar2001] [ePPOC-BPI]",
    notes=(
        "No bands: clinical-facts gives 0–4/5–6/7–10 for the BPI-SF severity score only. "
        "Recall 'right now' and the item wording are local choices (unconfirmed); the anchors "
        "0 = no pain, 10 = worst possible pain are from [Farrar2001]."
    ),
    mcid=Mcid(
        points=2,
        fraction=Decimal("0.3"),
        source="a ~2-point or ~30 % change is clinically important [Farrar2001]",
    ),
    recall_window=dt.timedelta(0),
    recall_source="a local choice (unconfirmed)",
)

_BPI_SEVERITY_KEYS = ("worst", "least", "average", "now")
_BPI_INTERFERENCE_KEYS = (
    "general_activity",
    "mood",
    "walking",
    "normal_work",
    "relations",
    "sleep",
    "enjoyment",
)

_BPI_SF = Instrument(
    code="bpi_sf",
    version="1",
    title="Brief Pain Inventory, short form (BPI-SF)",
    short_title="BPI-SF",
    rater=Rater.SELF,
    recall="last 24 hours",
    items=tuple(
        Item(key, None, label, 0, 10)
        for key, label in zip(
            (*_BPI_SEVERITY_KEYS, *_BPI_INTERFERENCE_KEYS),
            (
                "Worst pain",
                "Least pain",
                "Average pain",
                "Pain now",
                "General activity",
                "Mood",
                "Walking ability",
                "Normal work",
                "Relations with others",
                "Sleep",
                "Enjoyment of life",
            ),
            strict=True,
        )
    ),
    total_min=0,
    total_max=10,
    bands=(Band(0, 4, "mild"), Band(5, 6, "moderate"), Band(7, 10, "severe")),
    loinc_panel=None,
    loinc_total=None,
    licence=(
        "copyright Charles S. Cleeland; permission required, fees may apply "
        "[BPI-guide] [NINDS-BPI]: item text not shipped"
    ),
    citation="[BPI-guide-excerpt] [ePPOC-BPI] [NINDS-BPI] [BPI-guide]",
    notes=(
        "Only the 11 scored ratings are defined (not the body map, relief or medication "
        "items). Bands apply to the severity mean; a mean between bands belongs to the lower "
        "band (4.5 mild, 6.75 moderate): local choice, unconfirmed. An interference mean of 6 "
        "or 7 items may not terminate and is then rounded to 0.01 half up (display figure)."
    ),
    mcid=Mcid(
        points=None,
        fraction=Decimal("0.3"),
        source="severity mean: ≥ 30 %, IMMPACT moderately important change [ePPOC-BPI]",
    ),
    recall_window=dt.timedelta(hours=24),
    recall_source="[ePPOC-BPI], clinical-facts §7",
)

_FIQR_DOMAINS: tuple[tuple[str, tuple[str, ...], int], ...] = (
    # name, item keys, divisor [FIQR-scoring]
    ("function", tuple(str(n) for n in range(1, 10)), 3),
    ("overall", ("10", "11"), 1),
    ("symptoms", tuple(str(n) for n in range(12, 22)), 2),
)

_FIQR = Instrument(
    code="fiqr",
    version="1",
    title="Revised Fibromyalgia Impact Questionnaire (FIQR)",
    short_title="FIQR",
    rater=Rater.SELF,
    recall="past 7 days",
    items=tuple(
        Item(key, None, f"{name.capitalize()} {position}", 0, 10)
        for name, keys, _ in _FIQR_DOMAINS
        for position, key in enumerate(keys, start=1)
    ),
    total_min=0,
    total_max=100,
    bands=(),
    loinc_panel=None,
    loinc_total=None,
    licence=(
        "article CC-BY [Bennett2009]; questionnaire use licence unconfirmed: item text not shipped"
    ),
    citation="[Bennett2009] [FIQR-changes] [FIQR-scoring]",
    notes=(
        "No bands in clinical-facts. The minimum of items answered per domain for proration "
        "is not published in the facts: a setting, default 1 (unconfirmed). Recall 'past 7 "
        "days' unconfirmed. Item wording and licence unconfirmed, so labels name the domain "
        "and position only."
    ),
    recall_window=dt.timedelta(days=7),
    recall_source="not in clinical-facts (unconfirmed)",
)

_CADSS6_KEYS = ("1", "2", "6", "7", "15", "22")

_CADSS = Instrument(
    code="cadss",
    version="1",
    title="Clinician-Administered Dissociative States Scale, 23 items (CADSS)",
    short_title="CADSS",
    rater=Rater.CLINICIAN,
    recall="right now",
    items=_numbered([f"Item {number}" for number in range(1, 24)], max_value=4),
    total_min=0,
    total_max=92,
    bands=(),
    loinc_panel=None,
    loinc_total=None,
    licence="unconfirmed: item text not shipped",
    citation="[Bremner1998] [Rodrigues2021-CADSS6] [CADSS23-PTSD]",
    notes=(
        "The 0–4 item anchors are unconfirmed from a primary source; total 0–92 is derived "
        "(23 × 4). Licence unconfirmed. Item wording is not in clinical-facts, so labels are "
        "neutral. No severity bands are published in the facts."
    ),
    recall_window=dt.timedelta(0),
    recall_source="present-state dissociation [Bremner1998], clinical-facts §5c",
)

_MADRS = Instrument(
    code="madrs",
    version="1",
    title="Montgomery–Åsberg Depression Rating Scale (MADRS)",
    short_title="MADRS",
    rater=Rater.CLINICIAN,
    recall="past week",
    items=_numbered(
        (
            "Apparent sadness",
            "Reported sadness",
            "Inner tension",
            "Reduced sleep",
            "Reduced appetite",
            "Concentration difficulties",
            "Lassitude",
            "Inability to feel",
            "Pessimistic thoughts",
            "Suicidal thoughts",
        ),
        max_value=6,
    ),
    total_min=0,
    total_max=60,
    bands=(
        Band(0, 6, "absent"),
        Band(7, 19, "mild"),
        Band(20, 34, "moderate"),
        Band(35, 60, "severe"),
    ),
    loinc_panel=None,
    loinc_total=None,
    licence="copyright Royal College of Psychiatrists [CamCOPS-missing]: item text not shipped",
    citation="[MADRS-McDowell] [Montgomery1979] [CamCOPS-missing]",
    notes=(
        "Bands are Snaith's (1986) cut-points [MADRS-McDowell]; the alternative 12/24/35 is "
        "not used. Only item names are shipped; wording and anchors are copyrighted. Recall "
        "period is not in clinical-facts (unconfirmed). LOINC not in clinical-facts."
    ),
    recall_window=dt.timedelta(days=7),
    recall_source="not in clinical-facts (unconfirmed)",
)

_YMRS_DOUBLED = ("5", "6", "8", "9")  # scored 0–8, twice the weight of the others (0–4)

_YMRS = Instrument(
    code="ymrs",
    version="1",
    title="Young Mania Rating Scale (YMRS)",
    short_title="YMRS",
    rater=Rater.CLINICIAN,
    recall="past 48 hours and the interview",
    recall_window=dt.timedelta(hours=48),
    recall_source="[YMRS-scoring] (secondary)",
    items=tuple(
        Item(key, None, label, 0, 8 if key in _YMRS_DOUBLED else 4)
        for key, label in zip(
            (str(n) for n in range(1, 12)),
            (
                "Elevated mood",
                "Increased motor activity-energy",
                "Sexual interest",
                "Sleep",
                "Irritability",
                "Speech (rate and amount)",
                "Language-thought disorder",
                "Content",
                "Disruptive-aggressive behavior",
                "Appearance",
                "Insight",
            ),
            strict=True,
        )
    ),
    total_min=0,
    total_max=60,
    bands=(),
    loinc_panel=None,
    loinc_total=None,
    licence=(
        "published by its authors and widely distributed [YMRS-mhscales]; permission to "
        "reproduce the anchors unconfirmed: item text not shipped"
    ),
    citation="[Young1978] [YMRS-mhscales] [YMRS-scoring] [PubCompare-CADSS]",
    notes=(
        "11 clinician-rated items; items 5, 6, 8 and 9 are scored 0–8 (double weight), the "
        "other seven 0–4, total 0–60 [YMRS-scoring] [PubCompare-CADSS]. The 0–8 items have "
        "anchors at even values and the odd values between them may be given (secondary: "
        "[YMRS-form]). Recall: the patient's report over the past 48 hours with what the "
        "rater sees at the interview [YMRS-scoring] (secondary). Remission ≤ 12 "
        "[PubCompare-CADSS]; no severity bands are in clinical-facts. The alert threshold "
        "is a clinic rule (default 12, the remission cut-point used as an alert: "
        "unconfirmed). References not in clinical-facts: [Young1978] Young RC, Biggs JT, "
        "Ziegler VE, Meyer DA. A rating scale for mania: reliability, validity and "
        "sensitivity. Br J Psychiatry 1978;133:429-435, doi:10.1192/bjp.133.5.429; "
        "[YMRS-mhscales] https://mhscales.com/ymrs (item names); [YMRS-scoring] "
        "https://scales.arabpsychology.com/s/young-mania-rating-scale-ymrs/; [YMRS-form] "
        "https://freudly.ai/tests/young-mania-rating-scale-ymrs-blank."
    ),
)

INSTRUMENTS: Mapping[str, Instrument] = MappingProxyType(
    {
        instrument.code: instrument
        for instrument in (
            _PHQ9,
            _GAD7,
            _PCL5,
            _QIDS_SR16,
            _CSSRS_SCREENER,
            _PAIN_NRS,
            _BPI_SF,
            _FIQR,
            _CADSS,
            _MADRS,
            _YMRS,
        )
    }
)


def get_instrument(code: str) -> Instrument:
    """Return the instrument with this code.

    Raises ClinicalValueError naming ``instrument`` when the code is unknown; the message lists
    the known codes.
    """
    try:
        return INSTRUMENTS[code]
    except KeyError:
        known = ", ".join(sorted(INSTRUMENTS))
        raise ClinicalValueError(
            "instrument", f"unknown instrument {code!r}; known: {known}"
        ) from None


# --- Scoring -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Settings:
    qids_suicide_threshold: int
    madrs_suicide_threshold: int
    fiqr_min_answered_per_domain: int
    ymrs_alert_threshold: int


_Values = Mapping[str, int | None]
_Scorer = Callable[[Instrument, _Values, _Settings], Score]

_QIDS_ITEM_MAX = 3
_MADRS_ITEM_MAX = 6
_FIQR_LARGEST_DOMAIN = max(len(keys) for _, keys, _ in _FIQR_DOMAINS)
_YMRS_TOTAL_MAX = 60


def score(
    code: str,
    answers: Mapping[str, int | None],
    *,
    qids_suicide_threshold: int = 1,
    madrs_suicide_threshold: int = 2,
    fiqr_min_answered_per_domain: int = 1,
    ymrs_alert_threshold: int = 12,
) -> Score:
    """Score a response to the instrument ``code`` by its published rule.

    ``answers`` maps item keys ("1".."n"; BPI-SF "worst", "least", ...) to whole-number
    answers; a missing key and None both mean "not answered". Each answer must be an int in
    the item's range (bool, float and str are refused). A missing answer is refused unless
    the instrument's own rule allows it: BPI-SF interference (≥ 4 of 7), FIQR domain scaling,
    and the C-SSRS skip logic, under which a skipped item must be left unanswered.

    ``qids_suicide_threshold`` (1–3, default 1) is the QIDS-SR16 item-12 answer at or above
    which ``suicide_item_positive`` is flagged: a clinic setting (unconfirmed).
    ``madrs_suicide_threshold`` (1–6, default 2) is the same for MADRS item 10 (suicidal
    thoughts), whose anchors are 0, 2, 4 and 6 [MADRS-McDowell]: 2, the first anchor above
    none, is the default; no published alert threshold exists (unconfirmed, a clinic setting).
    ``fiqr_min_answered_per_domain`` (1–10, default 1) is the fewest answered items a FIQR
    domain may have and still be scaled up; it is capped at the domain's size (so 5 means
    5 of 9, 2 of 2 and 5 of 10). The facts give no minimum (unconfirmed); 1 is the least
    the published 9/x, 2/x, 10/x formula needs.
    ``ymrs_alert_threshold`` (0–59, default 12) is the YMRS total above which
    ``mania_above_threshold`` is flagged: a clinic setting; 12 is the remission cut-point (≤ 12
    [PubCompare-CADSS]) used as an alert threshold (unconfirmed).

    Raises ClinicalValueError naming ``instrument`` for an unknown code, OutOfRange naming
    the setting for a bad setting, and InvalidAnswer naming ``answers`` for a non-string key
    or ``item_<key>`` for an unknown item, a bad answer, a missing answer or a skipped item
    that was answered.
    """
    instrument = get_instrument(code)
    settings = _Settings(
        qids_suicide_threshold=_checked_setting(
            "qids_suicide_threshold", qids_suicide_threshold, _QIDS_ITEM_MAX
        ),
        madrs_suicide_threshold=_checked_setting(
            "madrs_suicide_threshold", madrs_suicide_threshold, _MADRS_ITEM_MAX
        ),
        fiqr_min_answered_per_domain=_checked_setting(
            "fiqr_min_answered_per_domain", fiqr_min_answered_per_domain, _FIQR_LARGEST_DOMAIN
        ),
        ymrs_alert_threshold=_checked_setting(
            "ymrs_alert_threshold", ymrs_alert_threshold, _YMRS_TOTAL_MAX - 1, low=0
        ),
    )
    values = _checked_answers(instrument, answers)
    return _SCORERS[instrument.code](instrument, values, settings)


def _checked_setting(field: str, value: int, high: int, *, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise OutOfRange(field, f"{field} must be an integer {low}–{high}; got {value!r}")
    return value


def _checked_answers(instrument: Instrument, answers: Mapping[str, int | None]) -> _Values:
    """Return every item's answer (None when unanswered) after checking keys and ranges."""
    keys = [item.key for item in instrument.items]
    for key in answers:
        if not isinstance(key, str):
            raise InvalidAnswer(
                "answers", f"{instrument.short_title} item keys are strings; got {key!r}"
            )
        if key not in keys:
            raise InvalidAnswer(
                f"item_{key}",
                f"{key!r} is not an item of {instrument.short_title}; "
                f"items are {_describe_keys(keys)}",
            )
    return {
        item.key: _checked_value(instrument, item, answers.get(item.key))
        for item in instrument.items
    }


def _checked_value(instrument: Instrument, item: Item, value: object) -> int | None:
    if value is None:
        return None
    allowed = f"{item.min_value}–{item.max_value}"
    where = f"{instrument.short_title} item {item.key}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAnswer(
            f"item_{item.key}", f"{where} must be an integer {allowed}; got {value!r}"
        )
    if not item.min_value <= value <= item.max_value:
        raise InvalidAnswer(f"item_{item.key}", f"{where} must be {allowed}; got {value}")
    return value


def _describe_keys(keys: Sequence[str]) -> str:
    """Describe item keys compactly: "1–9", "1", "1–6, 6_recent", "worst, least, ..."."""
    run = 0
    while run < len(keys) and keys[run] == str(run + 1):
        run += 1
    leading = [] if run == 0 else [f"1–{run}" if run > 1 else "1"]
    return ", ".join([*leading, *keys[run:]])


def _missing_text(keys: Sequence[str], why: str = "") -> str:
    """ "item 9 is missing" or "items 3, 5 and 9 are missing", then `why`."""
    if len(keys) == 1:
        return f"item {keys[0]} is missing{why}"
    return f"items {', '.join(keys[:-1])} and {keys[-1]} are missing{why}"


def _missing(instrument: Instrument, keys: Sequence[str], why: str = "") -> InvalidAnswer:
    """Refuse a response naming every missing item at once (the field: the first of them)."""
    return InvalidAnswer(f"item_{keys[0]}", f"{instrument.short_title} {_missing_text(keys, why)}")


def _short_of_items(
    instrument: Instrument, short: Sequence[tuple[list[str], str]]
) -> InvalidAnswer:
    """Refuse a response some of whose scores are short of items (BPI-SF, FIQR): each one's
    missing items and why, in one message (the field: the first missing item)."""
    parts = "; ".join(_missing_text(keys, why) for keys, why in short)
    return InvalidAnswer(f"item_{short[0][0][0]}", f"{instrument.short_title} {parts}")


def _all_answered(instrument: Instrument, values: _Values) -> dict[str, int]:
    """Return the answers when every item is answered; else refuse, naming every missing
    item."""
    missing = [key for key, value in values.items() if value is None]
    if missing:
        raise _missing(instrument, missing)
    return {key: value for key, value in values.items() if value is not None}


def _make_score(
    instrument: Instrument,
    total: int | Decimal,
    *,
    answered: int,
    subscales: Mapping[str, int | Decimal] | None = None,
    flags: Sequence[Flag] = (),
    prorated: bool = False,
) -> Score:
    return Score(
        instrument=instrument.code,
        total=total,
        subscales=MappingProxyType(dict(subscales or {})),
        severity=_band_label(instrument, total),
        flags=tuple(sorted(flags)),
        answered=answered,
        prorated=prorated,
    )


def _band_label(instrument: Instrument, total: int | Decimal) -> str | None:
    """Return the label of the highest band whose floor the total has reached, if any."""
    for band in reversed(instrument.bands):
        if band.low <= total:
            return band.label
    return None


def _to_decimal(value: Fraction) -> Decimal:
    """Return a non-negative fraction as an exact Decimal, or rounded to 0.01 half up.

    Exact when the denominator has no prime factors but 2 and 5 (the expansion terminates);
    otherwise ROUND_HALF_UP to two places, computed on the exact fraction so nothing is
    rounded twice. Built from strings, so the result does not depend on a decimal context.
    """
    denominator = value.denominator
    twos = fives = 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    if denominator == 1:
        places = max(twos, fives)
        return Decimal(f"{value.numerator * 10**places // value.denominator}E-{places}")
    return Decimal(f"{floor(value * 100 + Fraction(1, 2))}E-2")


def _score_sum(instrument: Instrument, values: _Values, settings: _Settings) -> Score:
    """Sum all items, every item required, and band the total.

    GAD-7: 7 items 0–3, total 0–21, cut-points 5/10/15 [Spitzer2006]. Pain NRS: one item
    0–10, no bands [Farrar2001].
    """
    answered = _all_answered(instrument, values)
    return _make_score(instrument, sum(answered.values()), answered=len(answered))


def _score_madrs(instrument: Instrument, values: _Values, settings: _Settings) -> Score:
    """Sum 10 items 0–6 (0–60, unweighted), Snaith bands 0–6 absent, 7–19 mild, 20–34
    moderate, 35–60 severe [MADRS-McDowell] [Montgomery1979]; ``suicide_item_positive`` when
    item 10 (suicidal thoughts) is at or above the clinic's threshold (a setting, unconfirmed:
    no published alert threshold). The total and its band never hide it: item 10 at 6
    ("explicit plans") with every other item at 0 is "absent" and flagged.
    """
    answered = _all_answered(instrument, values)
    flags = (
        [Flag.SUICIDE_ITEM_POSITIVE] if answered["10"] >= settings.madrs_suicide_threshold else []
    )
    return _make_score(instrument, sum(answered.values()), answered=len(answered), flags=flags)


def _score_phq9(instrument: Instrument, values: _Values, settings: _Settings) -> Score:
    """Sum 9 items 0–3 (0–27), bands at 5/10/15/20 [Kroenke2001]; flag item 9 > 0.

    The item-9 flag is an implementation requirement, unconfirmed as a published rule
    (clinical-facts §7).
    """
    answered = _all_answered(instrument, values)
    flags = [Flag.SUICIDE_ITEM_POSITIVE] if answered["9"] > 0 else []
    return _make_score(instrument, sum(answered.values()), answered=len(answered), flags=flags)


# Cluster, item keys and the number of items rated ≥ 2 the DSM-5 rule needs [PCL5-scoring].
_PCL5_CLUSTERS: tuple[tuple[str, tuple[str, ...], int], ...] = (
    ("B", tuple(str(n) for n in range(1, 6)), 1),
    ("C", ("6", "7"), 1),
    ("D", tuple(str(n) for n in range(8, 15)), 2),
    ("E", tuple(str(n) for n in range(15, 21)), 2),
)
_PCL5_ENDORSED_FROM = 2  # an item rated 2 "Moderately" or higher counts as endorsed


def _score_pcl5(instrument: Instrument, values: _Values, settings: _Settings) -> Score:
    """Sum 20 items 0–4 (0–80) with cluster sums B 1–5, C 6–7, D 8–14, E 15–20.

    ``provisional_ptsd`` follows the DSM-5 rule, counting items rated ≥ 2 as endorsed: at
    least 1 B, 1 C, 2 D and 2 E [PCL5-scoring] [PCL5-clusters]. No severity bands are
    published, so ``severity`` is None; the total cut-point is not applied.
    """
    answered = _all_answered(instrument, values)
    subscales = {name: sum(answered[key] for key in keys) for name, keys, _ in _PCL5_CLUSTERS}
    rule_met = all(
        sum(answered[key] >= _PCL5_ENDORSED_FROM for key in keys) >= needed
        for _, keys, needed in _PCL5_CLUSTERS
    )
    flags = [Flag.PROVISIONAL_PTSD] if rule_met else []
    return _make_score(
        instrument,
        sum(answered.values()),
        answered=len(answered),
        subscales=subscales,
        flags=flags,
    )


# The 9 DSM domains and their items; a domain scores the highest of its items.
_QIDS_DOMAINS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("sleep", ("1", "2", "3", "4")),
    ("sad_mood", ("5",)),
    ("appetite_weight", ("6", "7", "8", "9")),
    ("concentration", ("10",)),
    ("self_view", ("11",)),
    ("suicidal_ideation", ("12",)),
    ("interest", ("13",)),
    ("energy", ("14",)),
    ("psychomotor", ("15", "16")),
)


def _score_qids_sr16(instrument: Instrument, values: _Values, settings: _Settings) -> Score:
    """Score 16 items 0–3 over 9 domains; total = sum of domain scores, 0–27.

    Sleep = max(items 1–4), appetite/weight = max(items 6–9), psychomotor = max(items
    15–16), the other six domains are single items [GuidelineCentral-QIDS] [QIDS-Rdoc].
    Bands 0–5 none, 6–10 mild, 11–15 moderate, 16–20 severe, 21–27 very severe
    [IDS-QIDS-interp]. ``suicide_item_positive`` when item 12 ≥ the clinic's threshold
    (a setting, unconfirmed).
    """
    answered = _all_answered(instrument, values)
    domains = {name: max(answered[key] for key in keys) for name, keys in _QIDS_DOMAINS}
    flags = (
        [Flag.SUICIDE_ITEM_POSITIVE] if answered["12"] >= settings.qids_suicide_threshold else []
    )
    return _make_score(
        instrument,
        sum(domains.values()),
        answered=len(answered),
        subscales=domains,
        flags=flags,
    )


_CSSRS_YES = 1
_CSSRS_RANK = {risk: rank for rank, risk in enumerate(CssrsRisk)}
_CSSRS_FLAGS = {CssrsRisk.MODERATE: Flag.CSSRS_MODERATE_RISK, CssrsRisk.HIGH: Flag.CSSRS_HIGH_RISK}


def _score_cssrs_screener(instrument: Instrument, values: _Values, settings: _Settings) -> Score:
    """Triage a C-SSRS screener to a risk level none/low/moderate/high (rank 0–3).

    Skip logic [CSSRS-screen] [CSSRS-form]: items 1, 2 and 6 are always asked; items 3–5 only
    when item 2 is yes; "6_recent" (within the past 3 months) only when item 6 is yes. An
    asked item must be answered and a skipped item must be left unanswered.

    Triage (secondary [CSSRS-summary], verify against Columbia's official triage): yes to 4,
    5 or recent behaviour → high; yes to 3 → moderate; yes to 1 or 2 only → low; otherwise
    none. Behaviour more than 3 months ago → moderate: the facts are silent (unconfirmed).
    Whatever the triage, yes to item 2 (active suicidal thoughts [CSSRS-screen]) flags
    ``suicide_item_positive``: low triage is not no risk (an implementation requirement, like
    PHQ-9 item 9; unconfirmed as a published rule).
    """
    answers: dict[str, int] = {}
    missing: dict[str, str] = {}  # each missing item that is asked, and why it is asked
    for key, value in values.items():
        parent = _CSSRS_PARENTS.get(key)
        if parent in missing:
            continue  # asked or not, as the missing parent will say
        asked_because = _cssrs_asked_because(key, answers)
        if asked_because is None:
            if value is not None:
                raise InvalidAnswer(
                    f"item_{key}",
                    f"C-SSRS item {key} is asked only when item {parent} is yes; "
                    f"leave it unanswered when item {parent} is no",
                )
            continue
        if value is None:
            missing[key] = asked_because
            continue
        answers[key] = value
    if missing:
        why = "".join(dict.fromkeys(missing.values()))
        raise _missing(instrument, list(missing), why)
    risk = _cssrs_risk(answers)
    flags = [_CSSRS_FLAGS[risk]] if risk in _CSSRS_FLAGS else []
    flags += [Flag.SUICIDE_ITEM_POSITIVE] if answers.get("2") == _CSSRS_YES else []
    return _make_score(instrument, _CSSRS_RANK[risk], answered=len(answers), flags=flags)


# The C-SSRS items asked only after a yes, and the item they follow [CSSRS-screen].
_CSSRS_PARENTS = {"3": "2", "4": "2", "5": "2", "6_recent": "6"}


def _cssrs_asked_because(key: str, earlier: Mapping[str, int]) -> str | None:
    """Return why the item is asked ("" when always), or None when the skip logic skips it."""
    if key in {"3", "4", "5"}:
        return "; items 3–5 are asked when item 2 is yes" if earlier["2"] == _CSSRS_YES else None
    if key == "6_recent":
        return "; item 6_recent is asked when item 6 is yes" if earlier["6"] == _CSSRS_YES else None
    return ""


def _cssrs_risk(answers: Mapping[str, int]) -> CssrsRisk:
    def yes(key: str) -> bool:
        return answers.get(key) == _CSSRS_YES

    if yes("4") or yes("5") or yes("6_recent"):
        return CssrsRisk.HIGH
    if yes("3") or yes("6"):
        # yes("6") here means behaviour more than 3 months ago (unconfirmed mapping).
        return CssrsRisk.MODERATE
    if yes("1") or yes("2"):
        return CssrsRisk.LOW
    return CssrsRisk.NONE


_BPI_MIN_INTERFERENCE = 4


def _score_bpi_sf(instrument: Instrument, values: _Values, settings: _Settings) -> Score:
    """Score the BPI-SF: severity = mean of 4 items, interference = mean of 7 items.

    Severity (worst, least, average, now; 0–10) needs all 4 items; interference (7 items,
    0–10) is valid when at least 4 are answered and is then the mean of those answered
    (``prorated``) [BPI-guide-excerpt] [ePPOC-BPI]. The total is the severity mean, banded
    0–4 mild, 5–6 moderate, 7–10 severe [ePPOC-BPI]; a mean between bands (4.5) belongs to
    the lower band (local choice, unconfirmed). Severity means are exact quarters; an
    interference mean over 6 or 7 items is rounded to 0.01 half up when it does not
    terminate (display figure).
    """
    severity_items = [value for key in _BPI_SEVERITY_KEYS if (value := values[key]) is not None]
    interference_items = [
        value for key in _BPI_INTERFERENCE_KEYS if (value := values[key]) is not None
    ]
    short: list[tuple[list[str], str]] = []  # each score short of items: the missing, why
    if len(severity_items) < len(_BPI_SEVERITY_KEYS):
        short.append((
            [key for key in _BPI_SEVERITY_KEYS if values[key] is None],
            "; the severity score needs all 4 severity items (worst, least, average, now)",
        ))  # fmt: skip
    if len(interference_items) < _BPI_MIN_INTERFERENCE:
        short.append((
            [key for key in _BPI_INTERFERENCE_KEYS if values[key] is None],
            f"; the interference score needs at least {_BPI_MIN_INTERFERENCE} of its "
            f"{len(_BPI_INTERFERENCE_KEYS)} items answered, got {len(interference_items)}",
        ))  # fmt: skip
    if short:
        raise _short_of_items(instrument, short)
    severity = _to_decimal(Fraction(sum(severity_items), len(severity_items)))
    interference = _to_decimal(Fraction(sum(interference_items), len(interference_items)))
    return _make_score(
        instrument,
        severity,
        answered=len(severity_items) + len(interference_items),
        subscales={"severity": severity, "interference": interference},
        prorated=len(interference_items) < len(_BPI_INTERFERENCE_KEYS),
    )


def _score_fiqr(instrument: Instrument, values: _Values, settings: _Settings) -> Score:
    """Score the FIQR: function sum ÷ 3 + overall sum ÷ 1 + symptoms sum ÷ 2, 0–100.

    21 items 0–10: function 1–9 (0–30 after ÷ 3), overall impact 10–11 (0–20), symptoms
    12–21 (0–50 after ÷ 2) [Bennett2009] [FIQR-changes] [FIQR-scoring]. A domain with
    missing items has its sum scaled by 9/x, 2/x or 10/x, x = items answered
    [FIQR-scoring] (``prorated``), when x reaches the ``fiqr_min_answered_per_domain``
    setting capped at the domain size (a local setting: the facts give no minimum,
    unconfirmed). Subscales are the domain contributions; each and the total are exact or
    rounded to 0.01 separately, so rounded subscales may not add up to the total exactly.
    """
    contributions: dict[str, Fraction] = {}
    answered_count = 0
    short: list[tuple[list[str], str]] = []  # each domain short of items: the missing, why
    for name, keys, divisor in _FIQR_DOMAINS:
        answered = [value for key in keys if (value := values[key]) is not None]
        needed = min(settings.fiqr_min_answered_per_domain, len(keys))
        if len(answered) < needed:
            short.append((
                [key for key in keys if values[key] is None],
                f"; the {name} domain needs at least {needed} of its {len(keys)} items "
                f"answered, got {len(answered)}",
            ))  # fmt: skip
            continue
        contributions[name] = Fraction(sum(answered) * len(keys), len(answered) * divisor)
        answered_count += len(answered)
    if short:
        raise _short_of_items(instrument, short)
    return _make_score(
        instrument,
        _to_decimal(sum(contributions.values(), Fraction(0))),
        answered=answered_count,
        subscales={name: _to_decimal(part) for name, part in contributions.items()},
        prorated=answered_count < len(instrument.items),
    )


def _score_cadss(instrument: Instrument, values: _Values, settings: _Settings) -> Score:
    """Sum 23 items 0–4 (0–92, derived) with the CADSS-6 short form as a subscale.

    The 23-item version is the standard in ketamine trials [Rodrigues2021-CADSS6]
    [CADSS23-PTSD]; present-state dissociation [Bremner1998]. "cadss6" sums items 1, 2, 6, 7,
    15 and 22 [Rodrigues2021-CADSS6]; all 23 items are required, so it is always present.
    The 0–4 anchors are unconfirmed; no bands are published in the facts.
    """
    answered = _all_answered(instrument, values)
    return _make_score(
        instrument,
        sum(answered.values()),
        answered=len(answered),
        subscales={"cadss6": sum(answered[key] for key in _CADSS6_KEYS)},
    )


def _score_ymrs(instrument: Instrument, values: _Values, settings: _Settings) -> Score:
    """Sum 11 items, every item required: items 5, 6, 8 and 9 are 0–8, the others 0–4, total
    0–60 [YMRS-scoring] [PubCompare-CADSS]. No bands (none in clinical-facts; remission is
    ≤ 12 [PubCompare-CADSS]). ``mania_above_threshold`` when the total is above the clinic's
    threshold (default 12: unconfirmed as an alert rule).
    """
    answered = _all_answered(instrument, values)
    total = sum(answered.values())
    flags = [Flag.MANIA_ABOVE_THRESHOLD] if total > settings.ymrs_alert_threshold else []
    return _make_score(instrument, total, answered=len(answered), flags=flags)


_SCORERS: Mapping[str, _Scorer] = MappingProxyType(
    {
        "phq9": _score_phq9,
        "gad7": _score_sum,
        "pcl5": _score_pcl5,
        "qids_sr16": _score_qids_sr16,
        "cssrs_screener": _score_cssrs_screener,
        "pain_nrs": _score_sum,
        "bpi_sf": _score_bpi_sf,
        "fiqr": _score_fiqr,
        "cadss": _score_cadss,
        "madrs": _score_madrs,
        "ymrs": _score_ymrs,
    }
)


# The bounds of the two scoring settings a clinic sets (sustain_core.clinic_rules): the highest
# QIDS-SR16 item-12 answer, and the largest FIQR domain.
QIDS_SUICIDE_THRESHOLD_MAX = _QIDS_ITEM_MAX
# The instruments whose suicide item flags ``suicide_item_positive`` (a suicide-risk alert):
# PHQ-9 item 9, QIDS-SR16 item 12, MADRS item 10, C-SSRS screener item 2.
SUICIDE_ITEM_INSTRUMENTS = frozenset({"phq9", "qids_sr16", "madrs", "cssrs_screener"})
MADRS_SUICIDE_THRESHOLD_MAX = _MADRS_ITEM_MAX
FIQR_MIN_ANSWERED_MAX = _FIQR_LARGEST_DOMAIN
# The highest YMRS alert threshold: above 59 no total (at most 60) could raise the alert.
YMRS_ALERT_THRESHOLD_MAX = _YMRS_TOTAL_MAX - 1
