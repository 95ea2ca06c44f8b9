import datetime as dt
from decimal import Decimal

import pytest

from sustain_core.errors import ClinicalValueError
from sustain_core.measurement import Anchor, DueStatus, MeasurementRule, TreatmentEvents, due_items
from sustain_core.protocols import (
    DEPRESSION_INDUCTION_V1,
    PROTOCOLS,
    Condition,
    DoseRegimen,
    Protocol,
    RegimenKind,
    SafetyThresholds,
    get_protocol,
)
from sustain_core.series import SeriesRules

pytestmark = pytest.mark.core


def test_get_protocol_known_key_and_version() -> None:
    assert get_protocol("depression-induction", 1) is DEPRESSION_INDUCTION_V1


@pytest.mark.parametrize(
    ("key", "version"),
    [
        pytest.param("depression-induction", 2, id="unknown-version"),
        pytest.param("ptsd-induction", 1, id="unknown-key"),
    ],
)
def test_get_protocol_unknown_rejected(key: str, version: int) -> None:
    with pytest.raises(ClinicalValueError) as raised:
        get_protocol(key, version)

    assert raised.value.field == "protocol"
    assert raised.value.message == (
        f"unknown protocol {key} v{version}; known: aan-het-rot-2010 v1, anxiety v1, "
        "bipolar-depression v1, crps-schwartzman-2009 v1, depression-induction v1, "
        "fibromyalgia v1, murrough-2013 v1, neuropathic-pain v1, phillips-2019 v1, "
        "ptsd-feder-2021 v1, shiroma-2014 v1, singh-2016 v1, suicidal-ideation v1"
    )


def test_depression_induction_v1_parameters() -> None:
    protocol = DEPRESSION_INDUCTION_V1

    assert (
        protocol.condition,
        protocol.dose_mg_per_kg,
        protocol.infusion_minutes,
        protocol.bag_volume_ml,
        protocol.induction_infusions,
        protocol.min_gap,
        protocol.max_span,
        protocol.instrument,
    ) == (
        Condition.DEPRESSION,
        Decimal("0.5"),
        40,
        Decimal("100"),
        6,
        dt.timedelta(hours=48),
        dt.timedelta(days=21),
        "phq9",
    )


def test_depression_induction_v1_cites_its_sources() -> None:
    cited = [(c.key, c.supports) for c in DEPRESSION_INDUCTION_V1.citations]

    # The five sources of the original values, unchanged, then those of the fields the
    # protocol library added (futility, contraindications, extension, titration, maintenance,
    # the post-induction battery, the CADSS hold level, the visit and its monitoring, the
    # absolute and relative contraindications).
    assert cited[:5] == [
        ("Murrough2013", "0.5 mg/kg; 6 infusions three times weekly over 12 days"),
        ("Shiroma2014", "0.5 mg/kg over 40 min; 6 infusions Monday–Wednesday–Friday"),
        ("Oliver2022", "6 infusions within 21 days; PHQ-9 as the outcome measure"),
        ("MECP2024", "100 mL 0.9% NaCl over 40 min"),
        ("McInnes2022", "PHQ-9 response (≥50% reduction) and remission (total below 5)"),
    ]
    assert [key for key, _ in cited[5:]] == [
        "Sanacora2017-medscape",
        "Sanacora2017-S2",
        "Ekstrand2022",
        "CommunityUpdate2022",
        "Andrade2017",
        "Phillips2019",
        "Hietamies2023",
        "Clinic-NY",
        "CADSS-Yale2018",
        "ED-scirp",
        "RivaPosse2018",
        "Diazgranados2010",
        "Ketalar-label",
        "Cohen2018-GC",
    ]


def test_depression_induction_v1_references_carry_their_doi() -> None:
    references = {c.key: c.reference for c in DEPRESSION_INDUCTION_V1.citations}

    assert references["Murrough2013"].endswith(
        "Biol Psychiatry 2013;74(4):250-256. doi:10.1016/j.biopsych.2012.06.022. "
        "https://pmc.ncbi.nlm.nih.gov/articles/PMC3725185"
    )
    assert references["MECP2024"].endswith("doi:10.1186/s43045-024-00420-x")


def test_protocols_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        PROTOCOLS[("x", 1)] = DEPRESSION_INDUCTION_V1  # type: ignore[index]


def test_protocol_without_measurement_fields_gets_the_defaults() -> None:
    # Chronic pain: a psychiatric protocol must plan a suicide item (issue 11), so no empty plan.
    protocol = Protocol(
        key="minimal",
        version=1,
        title="Minimal",
        condition=Condition.CHRONIC_PAIN,
        indications=(Condition.CHRONIC_PAIN,),
        regimen=DoseRegimen(
            kind=RegimenKind.PER_SESSION, infusion_minutes=40, mg_per_kg=Decimal("0.5")
        ),
        bag_volume_ml=Decimal("100"),
        series=SeriesRules(count=6, min_gap=dt.timedelta(hours=48), max_span=dt.timedelta(days=21)),
        instrument="phq9",
        baseline_measures=("phq9",),
        citations=(),
    )

    assert (
        protocol.measurement_plan,
        protocol.relapse_confirmation_days,
        protocol.remission_max_override,
        protocol.titration,
        protocol.futility_after,
        protocol.extension_max_infusions,
        protocol.safety,
        protocol.maintenance_options,
        protocol.response_fraction,
        protocol.unconfirmed,
        protocol.notes,
    ) == ((), 7, None, (), None, None, SafetyThresholds(), (), Decimal("0.5"), (), "")


def test_depression_induction_v1_relapse_and_remission_settings() -> None:
    protocol = DEPRESSION_INDUCTION_V1

    assert (protocol.relapse_confirmation_days, protocol.remission_max_override) == (7, None)


def test_depression_induction_v1_measurement_plan() -> None:
    battery = ("phq9", "gad7", "qids_sr16")
    day = dt.timedelta(days=1)

    assert DEPRESSION_INDUCTION_V1.measurement_plan == (
        MeasurementRule(
            "baseline", Anchor.BEFORE_FIRST_INFUSION, ("phq9", "gad7"), window_before=7 * day
        ),
        MeasurementRule(
            "pre_infusion",
            Anchor.BEFORE_EACH_INFUSION,
            ("phq9",),
            window_before=day,
            from_infusion=2,
        ),
        MeasurementRule(
            "post_induction_24h",
            Anchor.AFTER_LAST_INDUCTION,
            battery,
            offset=day,
            window_before=day,
            window_after=day,
        ),
        *(
            MeasurementRule(
                f"post_induction_{weeks}w",
                Anchor.AFTER_LAST_INDUCTION,
                battery,
                offset=weeks * 7 * day,
                window_before=3 * day,
                window_after=3 * day,
            )
            for weeks in (2, 4, 8)
        ),
        MeasurementRule(
            "maintenance_weekly",
            Anchor.MAINTENANCE_WEEKLY,
            ("phq9",),
            interval=7 * day,
            window_before=2 * day,
            window_after=2 * day,
        ),
    )


def test_depression_induction_v1_plan_for_a_completed_induction() -> None:
    # Six infusions Monday–Wednesday–Friday 2–13 March 2026 at 09:00 UTC, nothing completed,
    # looked at on 16 March 12:00: two weeks ahead reaches the +2-week window (24–30 March).
    infusions = tuple(dt.datetime(2026, 3, day, 9, tzinfo=dt.UTC) for day in (2, 4, 6, 9, 11, 13))
    course = TreatmentEvents(infusions=infusions, induction_count=6, maintenance_started_at=None)
    now = dt.datetime(2026, 3, 16, 12, tzinfo=dt.UTC)

    items = due_items(DEPRESSION_INDUCTION_V1.measurement_plan, course, [], now=now)

    missed, upcoming = DueStatus.MISSED, DueStatus.UPCOMING
    assert [(i.rule, i.instrument, i.occasion, i.status) for i in items] == [
        ("baseline", "gad7", 1, missed),
        ("baseline", "phq9", 1, missed),
        *(("pre_infusion", "phq9", number, missed) for number in range(2, 7)),
        ("post_induction_24h", "gad7", 1, missed),
        ("post_induction_24h", "phq9", 1, missed),
        ("post_induction_24h", "qids_sr16", 1, missed),
        ("post_induction_2w", "gad7", 1, upcoming),
        ("post_induction_2w", "phq9", 1, upcoming),
        ("post_induction_2w", "qids_sr16", 1, upcoming),
    ]
