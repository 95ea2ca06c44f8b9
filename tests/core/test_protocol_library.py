"""The protocol library: every TOML file loads, validates, round-trips and cites its sources."""

import datetime as dt
import importlib.resources
import json
import re
import tomllib
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from sustain_core.errors import ClinicalValueError
from sustain_core.maintenance import MaintenanceKind, MaintenanceOption
from sustain_core.medications import DrugClass
from sustain_core.outcomes import Outcome, classify
from sustain_core.protocols import (
    DEPRESSION_INDUCTION_V1,
    PROTOCOLS,
    Condition,
    DoseRegimen,
    MonitoringPlan,
    Protocol,
    RegimenKind,
    feasible_start_weekdays,
    get_protocol,
    load_library,
    protocol_from_dict,
    protocol_to_dict,
)
from sustain_core.series import SeriesRules

pytestmark = pytest.mark.core

LIBRARY = sorted(PROTOCOLS.values(), key=lambda protocol: protocol.key)
HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)
LIBRARY_DIR = Path(str(importlib.resources.files("sustain_core.protocol_library")))


def by_key(protocol: Protocol) -> str:
    return protocol.key


def test_library_files_are_packaged_with_the_core() -> None:
    names = sorted(
        entry.name
        for entry in importlib.resources.files("sustain_core.protocol_library").iterdir()
        if entry.name.endswith(".toml")
    )

    assert names == [f"{p.key}.v{p.version}.toml" for p in LIBRARY]


# (key, version, instrument, (count, min gap h, max span days, weekdays, max/week), regimen)
SUMMARY = [
    ("aan-het-rot-2010", 1, "madrs", (6, 48, 12, None, 3), "0.5 mg/kg / 40 min"),
    ("anxiety", 1, "gad7", (6, 48, 21, None, 3), "0.5 mg/kg / 40 min"),
    ("bipolar-depression", 1, "madrs", (8, 48, 28, None, 2), "0.5 mg/kg / 40 min"),
    (
        "crps-schwartzman-2009",
        1,
        "pain_nrs",
        (10, 24, 14, [0, 1, 2, 3, 4], 5),
        "0.35 mg/kg/h ≤ 25 mg/h / 240 min ≤ 100 mg",
    ),
    ("depression-induction", 1, "phq9", (6, 48, 21, None, 3), "0.5 mg/kg / 40 min"),
    ("fibromyalgia", 1, "fiqr", (1, 0, 1, None, None), "0.3 mg/kg / 30 min"),
    ("murrough-2013", 1, "madrs", (6, 48, 12, [0, 2, 4], 3), "0.5 mg/kg / 40 min"),
    ("neuropathic-pain", 1, "pain_nrs", (1, 0, 1, None, None), "0.4 mg/kg / 40 min"),
    ("phillips-2019", 1, "madrs", (6, 48, 14, None, 3), "0.5 mg/kg / 40 min"),
    ("ptsd-feder-2021", 1, "pcl5", (6, 48, 14, None, 3), "0.5 mg/kg / 40 min"),
    ("shiroma-2014", 1, "madrs", (6, 48, 12, [0, 2, 4], 3), "0.5 mg/kg / 40 min"),
    ("singh-2016", 1, "madrs", (8, 48, 28, None, 2), "0.5 mg/kg / 40 min"),
    ("suicidal-ideation", 1, "madrs", (1, 0, 1, None, None), "0.5 mg/kg / 40 min"),
]


def describe_regimen(regimen: DoseRegimen) -> str:
    if regimen.kind == RegimenKind.PER_SESSION:
        return f"{regimen.mg_per_kg} mg/kg / {regimen.infusion_minutes} min"
    return (
        f"{regimen.mg_per_kg_per_h} mg/kg/h ≤ {regimen.cap_mg_per_h} mg/h / "
        f"{regimen.infusion_minutes} min ≤ {regimen.max_single_dose_mg} mg"
    )


def test_library_summary() -> None:
    summary = [
        (
            p.key,
            p.version,
            p.instrument,
            (
                p.series.count,
                p.series.min_gap // HOUR,
                p.series.max_span // DAY,
                None if p.series.weekdays is None else sorted(p.series.weekdays),
                p.series.max_per_week,
            ),
            describe_regimen(p.regimen),
        )
        for p in LIBRARY
    ]

    assert summary == SUMMARY


@pytest.mark.parametrize("protocol", LIBRARY, ids=by_key)
def test_library_protocol_round_trips_through_json(protocol: Protocol) -> None:
    data = json.loads(json.dumps(protocol_to_dict(protocol)))

    assert protocol_from_dict(data) == protocol
    assert protocol_to_dict(protocol_from_dict(data)) == data


@pytest.mark.parametrize("path", sorted(LIBRARY_DIR.glob("*.toml")), ids=lambda path: path.name)
def test_library_file_states_its_bag_convention(path: Path) -> None:
    # Explicit in every file (issue 11), not left to the model's default.
    with path.open("rb") as handle:
        data = tomllib.load(handle)

    assert data["bag_convention"] == "withdraw"
    assert any(item.startswith("bag_convention:") for item in data["unconfirmed"])


@pytest.mark.parametrize("protocol", LIBRARY, ids=by_key)
def test_library_protocol_cites_every_source_it_names(protocol: Protocol) -> None:
    data = protocol_to_dict(protocol)
    del data["citations"]
    named = set(re.findall(r"\[([A-Z][\w-]*)\]", json.dumps(data, ensure_ascii=False)))

    assert "CADSS-Yale2018" in named
    assert named <= {citation.key for citation in protocol.citations}
    assert all(c.reference and c.supports for c in protocol.citations)


@pytest.mark.parametrize("protocol", LIBRARY, ids=by_key)
def test_library_protocol_marks_its_unconfirmed_defaults(protocol: Protocol) -> None:
    # Every library protocol relies on the unconfirmed safety defaults, measurement windows
    # and monitoring defaults, and says so in its data.
    prefixes = {item.split(":")[0] for item in protocol.unconfirmed}

    assert {"safety", "measurement_plan", "relapse_confirmation_days", "monitoring"} <= prefixes
    assert protocol.safety.source.startswith("(unconfirmed)")
    assert "(unconfirmed)" in protocol.monitoring.source


def test_library_protocols_monitor_with_the_defaults() -> None:
    # Every file states its [monitoring] table; all hold the defaults.
    assert {protocol.monitoring for protocol in LIBRARY} == {MonitoringPlan()}
    assert all(
        "[monitoring]" in path.read_text(encoding="utf-8") for path in LIBRARY_DIR.glob("*.toml")
    )


def test_depression_standard_is_the_pinned_induction() -> None:
    assert get_protocol("depression-induction", 1) is DEPRESSION_INDUCTION_V1
    assert (
        DEPRESSION_INDUCTION_V1.futility_after,
        DEPRESSION_INDUCTION_V1.extension_max_infusions,
        DEPRESSION_INDUCTION_V1.series.max_per_week,
        [option.kind for option in DEPRESSION_INDUCTION_V1.maintenance_options],
    ) == (
        3,
        12,
        3,
        [MaintenanceKind.TAPER, MaintenanceKind.SYMPTOM_TRIGGERED, MaintenanceKind.FIXED_INTERVAL],
    )


def test_murrough_2013_plans_monday_wednesday_friday_from_a_monday() -> None:
    protocol = get_protocol("murrough-2013", 1)

    assert protocol.series == SeriesRules(
        count=6, min_gap=48 * HOUR, max_span=12 * DAY, weekdays=frozenset({0, 2, 4}), max_per_week=3
    )
    # From a Wednesday the sixth visit falls on day 12, past the 12-day span.
    assert feasible_start_weekdays(protocol.series, visit=40 * dt.timedelta(minutes=1)) == {0}


def test_bipolar_depression_needs_a_mood_stabiliser_and_measures_mania() -> None:
    """A mood stabiliser on the list before induction [Diazgranados2010]; the YMRS at
    baseline and before each later infusion, beside the MADRS (issue 11, item 5)."""
    protocol = get_protocol("bipolar-depression", 1)
    plan = {rule.key: rule.instruments for rule in protocol.measurement_plan}

    assert protocol.required_medication_classes == (DrugClass.MOOD_STABILISER,)
    assert protocol.baseline_measures == ("madrs", "ymrs")
    assert (plan["baseline"], plan["pre_infusion"]) == (("madrs", "ymrs"), ("madrs", "ymrs"))
    others = [p.key for p in PROTOCOLS.values() if p.required_medication_classes]
    assert others == ["bipolar-depression"]


def test_ptsd_response_is_thirty_percent() -> None:
    protocol = get_protocol("ptsd-feder-2021", 1)

    assert (protocol.condition, protocol.response_fraction) == (Condition.PTSD, Decimal("0.3"))


# Each library protocol's response definition, checked against clinical-facts (issue 11): the
# fraction and the source the TOML cites for it. PTSD and CRPS are the two at 30 %.
RESPONSE_FRACTIONS = {
    "aan-het-rot-2010": ("0.5", "[Murrough2013-avyia]"),  # §1b, MADRS ≥ 50 % (secondary)
    "anxiety": ("0.5", "[Glue2017]"),  # §3c, ≥ 50 % anxiety reduction (secondary)
    "bipolar-depression": ("0.5", "[Murrough2013-avyia]"),  # §7 MADRS ≥ 50 %
    "crps-schwartzman-2009": ("0.3", "[Farrar2001]"),  # §2b, §7: ≥ 30 % pain reduction
    "depression-induction": ("0.5", "[McInnes2022]"),  # §3a, PHQ-9 ≥ 50 %
    "fibromyalgia": ("0.5", "[GravenNielsen2000]"),  # §3f, > 50 % VAS
    "murrough-2013": ("0.5", "[Murrough2013-avyia]"),  # §1b
    "neuropathic-pain": ("0.5", "[Kvarnstrom2003]"),  # §3f, ≥ 50 % VAS
    "phillips-2019": ("0.5", "[Phillips2019]"),  # §3a, ≥ 50 % MADRS decrease
    "ptsd-feder-2021": ("0.3", "[Feder2021]"),  # §3b, ≥ 30 % CAPS-5 at week 2
    "shiroma-2014": ("0.5", "(unconfirmed)"),  # §1c: not in the abstract
    "singh-2016": ("0.5", "[Murrough2013-avyia]"),  # §3a: no response definition given
    "suicidal-ideation": ("0.5", "[Grunebaum2018]"),  # §3e, ≥ 50 % SSI
}


@pytest.mark.parametrize("protocol", LIBRARY, ids=by_key)
def test_library_response_fraction_matches_clinical_facts(protocol: Protocol) -> None:
    fraction, source = RESPONSE_FRACTIONS[protocol.key]
    line = next(
        line
        for line in (LIBRARY_DIR / f"{protocol.key}.v{protocol.version}.toml")
        .read_text()
        .splitlines()
        if line.startswith("response_fraction")
    )

    assert (protocol.response_fraction, source in line) == (Decimal(fraction), True)
    # The default partial band (25 %, unconfirmed) sits below every library response level.
    assert protocol.partial_response_fraction == Decimal("0.25")


@pytest.mark.parametrize(
    ("key", "instrument", "baseline_score", "current", "expected"),
    [
        pytest.param("ptsd-feder-2021", "pcl5", 50, 34, Outcome.RESPONSE, id="ptsd-pcl5-50-to-34"),
        pytest.param(
            "ptsd-feder-2021", "pcl5", 50, 37, Outcome.PARTIAL_RESPONSE, id="ptsd-pcl5-50-to-37"
        ),
        pytest.param(
            "ptsd-feder-2021", "madrs", 30, 20, Outcome.NO_RESPONSE, id="ptsd-madrs-own-50pct"
        ),
        pytest.param(
            "crps-schwartzman-2009", "pain_nrs", 8, 5, Outcome.RESPONSE, id="crps-nrs-37pct"
        ),
        pytest.param(
            "depression-induction",
            "phq9",
            20,
            13,
            Outcome.PARTIAL_RESPONSE,
            id="phq9-35pct-partial",
        ),
        pytest.param(
            "depression-induction", "phq9", 20, 16, Outcome.NO_RESPONSE, id="phq9-20pct-none"
        ),
        pytest.param(
            "depression-induction", "gad7", 16, 11, Outcome.NO_RESPONSE, id="secondary-no-partial"
        ),
    ],
)
def test_a_protocols_outcome_rules_classify_its_own_instrument(
    key: str, instrument: str, baseline_score: int, current: int, expected: Outcome
) -> None:
    rules = get_protocol(key, 1).outcome_rules(instrument)

    assert rules is not None
    assert classify(rules, baseline_score=baseline_score, current_score=current) == expected


def test_outcome_rules_keep_the_remission_override_and_name_the_protocol() -> None:
    ketect = replace(get_protocol("murrough-2013", 1), remission_max_override=10)

    rules = ketect.outcome_rules("madrs")

    assert rules is not None
    assert (rules.remission_max, rules.response_fraction, rules.partial_response_fraction) == (
        10, Decimal("0.5"), Decimal("0.25"),
    )  # fmt: skip
    assert rules.citation.endswith(
        "remission ≤ 10 set by the protocol; murrough-2013 v1 sets response ≥ 50 % and partial "
        "response ≥ 25 %"
    )
    assert ketect.outcome_rules("cadss") is None


def test_phillips_2019_offers_four_weekly_maintenance_infusions() -> None:
    assert get_protocol("phillips-2019", 1).maintenance_options == (
        MaintenanceOption(
            kind=MaintenanceKind.TAPER,
            label="4 once-weekly infusions in responders",
            steps=((4, 7 * DAY),),
            citation=(
                "4 weekly maintenance infusions in responders; no further MADRS change during "
                "them [Phillips2019]"
            ),
        ),
    )


def test_crps_regimen_is_per_hour_with_a_cap() -> None:
    protocol = get_protocol("crps-schwartzman-2009", 1)

    assert protocol.regimen == DoseRegimen(
        kind=RegimenKind.PER_HOUR,
        infusion_minutes=240,
        mg_per_kg_per_h=Decimal("0.35"),
        cap_mg_per_h=Decimal("25"),
        max_single_dose_mg=Decimal("100"),
    )
    assert (
        protocol.condition,
        protocol.indications,
        protocol.infusion_minutes,
        protocol.induction_infusions,
        protocol.series.weekdays,
        feasible_start_weekdays(protocol.series, visit=4 * HOUR),
    ) == (
        Condition.CHRONIC_PAIN,
        (Condition.CRPS,),
        240,
        10,
        frozenset(range(5)),
        frozenset(range(5)),
    )


def test_crps_has_no_per_session_dose() -> None:
    with pytest.raises(ClinicalValueError) as raised:
        _ = get_protocol("crps-schwartzman-2009", 1).dose_mg_per_kg

    assert (raised.value.field, raised.value.message) == (
        "regimen",
        "crps-schwartzman-2009 v1 doses 0.35 mg/kg/h, at most 25 mg/h, for 240 min; it has "
        "no per-session mg/kg dose",
    )


# --- load_library on a folder of its own --------------------------------------------------

DEPRESSION_TOML = (LIBRARY_DIR / "depression-induction.v1.toml").read_text(encoding="utf-8")


def test_load_library_reads_a_folder_and_skips_other_files(tmp_path: Path) -> None:
    (tmp_path / "depression-induction.v1.toml").write_text(DEPRESSION_TOML, encoding="utf-8")
    (tmp_path / "README.md").write_text("not a protocol", encoding="utf-8")

    assert dict(load_library(tmp_path)) == {("depression-induction", 1): DEPRESSION_INDUCTION_V1}


@pytest.mark.parametrize(
    ("name", "text", "field", "message"),
    [
        pytest.param(
            "Depression.toml",
            DEPRESSION_TOML,
            "library",
            "Depression.toml: a protocol file is named <key>.v<version>.toml",
            id="file-name",
        ),
        pytest.param(
            "depression-induction.v2.toml",
            DEPRESSION_TOML,
            "library",
            "depression-induction.v2.toml holds depression-induction v1; the file name must be "
            "depression-induction.v1.toml",
            id="name-and-version-disagree",
        ),
        pytest.param(
            "depression-induction.v1.toml",
            DEPRESSION_TOML.replace("version = 1\n", "version = 0\n"),
            "version",
            "depression-induction.v1.toml: version must be 1 or more; got 0",
            id="invalid-protocol",
        ),
    ],
)
def test_load_library_refuses(
    tmp_path: Path, name: str, text: str, field: str, message: str
) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")

    with pytest.raises(ClinicalValueError) as raised:
        load_library(tmp_path)

    assert (raised.value.field, raised.value.message) == (field, message)


def test_load_library_refuses_invalid_toml(tmp_path: Path) -> None:
    (tmp_path / "broken.v1.toml").write_text("key = \n", encoding="utf-8")

    with pytest.raises(ClinicalValueError) as raised:
        load_library(tmp_path)

    assert raised.value.field == "library"
    assert raised.value.message.startswith("broken.v1.toml: Invalid value")


@pytest.mark.parametrize("protocol", LIBRARY, ids=by_key)
def test_library_protocol_lists_blocking_contraindications(protocol: Protocol) -> None:
    """Issue 11: no psychiatric protocol listed an absolute contraindication, so a screen
    with pregnancy present let infusion 1 through. Every protocol now lists the label's
    (hypersensitivity; a rise in blood pressure as a serious hazard) and is for adults;
    the psychiatric ones block pregnancy and active psychosis or mania."""
    absolute = " | ".join(protocol.contraindications_absolute)
    relative = " | ".join(protocol.contraindications_relative)
    psychiatric = protocol.condition != Condition.CHRONIC_PAIN

    assert "Known hypersensitivity to ketamine" in absolute
    for hazard in ("Uncontrolled hypertension", "Aneurysm", "Recent myocardial infarction"):
        assert f"{hazard}" in absolute
    assert "Severe hepatic disease" in absolute
    assert ("Pregnancy" in absolute) is psychiatric
    assert ("Active psychosis or mania" in absolute) is psychiatric
    assert "Pregnancy" in absolute + relative
    assert "Raised intracranial or intraocular pressure" in relative
    assert "History of ketamine misuse" in relative
    # No serial infusions in active substance use disorder [Cohen2018-GC].
    in_series = protocol.series.count > 1
    assert ("Active substance use disorder: no serial infusions" in absolute) is in_series
    assert protocol.minimum_age_years == 18
