"""Treatment protocol definitions: the published parameters a course is planned from."""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from sustain_core.errors import ClinicalValueError
from sustain_core.measurement import Anchor, MeasurementRule


@dataclass(frozen=True)
class Citation:
    """A published source and the protocol parameter it backs."""

    key: str
    reference: str
    supports: str


class Condition(StrEnum):
    """The condition a protocol treats."""

    DEPRESSION = "depression"
    ANXIETY = "anxiety"
    PTSD = "ptsd"
    CHRONIC_PAIN = "chronic_pain"


@dataclass(frozen=True)
class Protocol:
    """A versioned infusion protocol.

    ``min_gap`` is the least time between the starts of consecutive infusions and
    ``max_span`` the most time from the start of the first to the end of the last.
    ``instrument`` is the key of the questionnaire that measures the outcome.

    ``measurement_plan`` says which questionnaires are due when (see
    ``sustain_core.measurement.due_items``); a protocol without one asks for none.
    ``relapse_confirmation_days`` is the least number of days between the two measurements
    that confirm a loss of response: loss of response confirmed at two visits is a defensible
    booster trigger but not a published definition, and the 7-day default is (unconfirmed)
    (clinical-facts §4b). ``remission_max_override`` is the highest total on
    ``instrument`` that counts as remission when the protocol says so (e.g. MADRS ≤ 10 as in
    KetECT [Ekstrand2022]); None keeps the instrument's own rule (PHQ-9 below 5 [McInnes2022]).
    """

    key: str
    version: int
    title: str
    condition: Condition
    dose_mg_per_kg: Decimal
    infusion_minutes: int
    bag_volume_ml: Decimal
    induction_infusions: int
    min_gap: dt.timedelta
    max_span: dt.timedelta
    instrument: str
    citations: tuple[Citation, ...]
    measurement_plan: tuple[MeasurementRule, ...] = ()
    relapse_confirmation_days: int = 7  # (unconfirmed) clinical-facts §4b
    remission_max_override: int | None = None


# Each parameter is backed by a citation below: [Murrough2013] [Shiroma2014] [Oliver2022]
# [MECP2024] [McInnes2022]. Clinics adopt it as a library copy and may version their own.
DEPRESSION_INDUCTION_V1 = Protocol(
    key="depression-induction",
    version=1,
    title="Depression induction: 6 infusions over 2–3 weeks, 0.5 mg/kg over 40 min",
    condition=Condition.DEPRESSION,
    dose_mg_per_kg=Decimal("0.5"),
    infusion_minutes=40,
    bag_volume_ml=Decimal("100"),
    induction_infusions=6,
    # Thrice weekly (Monday–Wednesday–Friday) leaves at least 48 h between starts.
    min_gap=dt.timedelta(hours=48),
    max_span=dt.timedelta(days=21),
    instrument="phq9",
    # PHQ-9 and GAD-7 are the measures of the community cohorts [Oliver2022] [McInnes2022];
    # QIDS-SR16 with GAD-7 measured post-induction change in real-world care [Hietamies2023].
    # The occasions follow the example plan; follow-up at +2, +4 and +8 weeks matches
    # the horizons of published durability data (4-week follow-up [Shiroma2014]; sustained
    # response at 4 and 8 weeks [McInnes2022]). Every window below is a clinic default,
    # (unconfirmed): no source fixes how early or late a questionnaire may be completed.
    measurement_plan=(
        # Baseline within the 7 days before infusion 1 (issue example; unconfirmed).
        MeasurementRule(
            key="baseline",
            anchor=Anchor.BEFORE_FIRST_INFUSION,
            instruments=("phq9", "gad7"),
            window_before=dt.timedelta(days=7),
        ),
        # Before every later infusion, in the 24 h before it starts (unconfirmed); the
        # baseline is the PHQ-9 before infusion 1, so one questionnaire serves for both.
        MeasurementRule(
            key="pre_infusion",
            anchor=Anchor.BEFORE_EACH_INFUSION,
            instruments=("phq9",),
            window_before=dt.timedelta(hours=24),
            from_infusion=2,
        ),
        # 24 h after the last induction infusion starts, ± 24 h (unconfirmed).
        MeasurementRule(
            key="post_induction_24h",
            anchor=Anchor.AFTER_LAST_INDUCTION,
            instruments=("phq9", "gad7", "qids_sr16"),
            offset=dt.timedelta(hours=24),
            window_before=dt.timedelta(hours=24),
            window_after=dt.timedelta(hours=24),
        ),
        # +2, +4 and +8 weeks after the last induction infusion, ± 3 days (unconfirmed).
        *(
            MeasurementRule(
                key=f"post_induction_{weeks}w",
                anchor=Anchor.AFTER_LAST_INDUCTION,
                instruments=("phq9", "gad7", "qids_sr16"),
                offset=dt.timedelta(weeks=weeks),
                window_before=dt.timedelta(days=3),
                window_after=dt.timedelta(days=3),
            )
            for weeks in (2, 4, 8)
        ),
        # Weekly from the start of maintenance, ± 2 days (unconfirmed).
        MeasurementRule(
            key="maintenance_weekly",
            anchor=Anchor.MAINTENANCE_WEEKLY,
            instruments=("phq9",),
            interval=dt.timedelta(weeks=1),
            window_before=dt.timedelta(days=2),
            window_after=dt.timedelta(days=2),
        ),
    ),
    citations=(
        Citation(
            key="Murrough2013",
            reference=(
                "Murrough JW, Perez AM, Pillemer S, Stern J, Parides MK, aan het Rot M, "
                "Collins KA, Mathew SJ, Charney DS, Iosifescu DV. Rapid and longer-term "
                "antidepressant effects of repeated ketamine infusions in treatment-resistant "
                "major depression. Biol Psychiatry 2013;74(4):250-256. "
                "doi:10.1016/j.biopsych.2012.06.022. "
                "https://pmc.ncbi.nlm.nih.gov/articles/PMC3725185"
            ),
            supports="0.5 mg/kg; 6 infusions three times weekly over 12 days",
        ),
        Citation(
            key="Shiroma2014",
            reference=(
                "Shiroma PR, Johns B, Kuskowski M, Wels J, Thuras P, Albott CS, Lim KO. "
                "Augmentation of response and remission to serial intravenous subanesthetic "
                "ketamine in treatment resistant depression. J Affect Disord 2014;155:123-129. "
                "https://experts.umn.edu/en/publications/"
                "augmentation-of-response-and-remission-to-serial-intravenous-suba"
            ),
            supports="0.5 mg/kg over 40 min; 6 infusions Monday–Wednesday–Friday",
        ),
        Citation(
            key="Oliver2022",
            reference=(
                "Oliver PA, Snyder AD, Feinn R, Malov S, McDiarmid G, Arias AJ. Clinical "
                "effectiveness of IV racemic ketamine infusions in a large community sample… "
                "J Clin Psychiatry 2022;83(6):21m14336. doi:10.4088/JCP.21m14336. PMID 36112599"
            ),
            supports="6 infusions within 21 days; PHQ-9 as the outcome measure",
        ),
        Citation(
            key="MECP2024",
            reference=(
                "Prospective open-label IV ketamine study (0.5 mg/kg in 100 mL NS over 40 min). "
                "Middle East Curr Psychiatry 2024;31:31. doi:10.1186/s43045-024-00420-x"
            ),
            supports="100 mL 0.9% NaCl over 40 min",
        ),
        Citation(
            key="McInnes2022",
            reference=(
                "McInnes LA, Qian JJ, Gargeya RS, DeBattista C, Heifets BD. A retrospective "
                "analysis of ketamine intravenous therapy for depression in real-world care "
                "settings. J Affect Disord 2022. doi:10.1016/j.jad.2021.12.097. PMID 35027209"
            ),
            supports="PHQ-9 response (≥50% reduction) and remission (total below 5)",
        ),
    ),
)

PROTOCOLS: Mapping[tuple[str, int], Protocol] = MappingProxyType(
    {(protocol.key, protocol.version): protocol for protocol in (DEPRESSION_INDUCTION_V1,)}
)


def get_protocol(key: str, version: int) -> Protocol:
    """Return the protocol with this key and version.

    Raises ClinicalValueError naming ``protocol`` when no such protocol exists.
    """
    try:
        return PROTOCOLS[(key, version)]
    except KeyError:
        known = ", ".join(f"{k} v{v}" for k, v in sorted(PROTOCOLS))
        raise ClinicalValueError(
            "protocol", f"unknown protocol {key} v{version}; known: {known}"
        ) from None
