"""The dict shape of a protocol (TOML files, the Django layer's JSON) and version diffs."""

import copy
import datetime as dt
import importlib.resources
import json
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import cast

import pytest

from sustain_core.dosing import BagConvention
from sustain_core.errors import ClinicalValueError
from sustain_core.maintenance import MaintenanceKind, MaintenanceOption
from sustain_core.protocols import (
    DEPRESSION_INDUCTION_V1,
    PROTOCOLS,
    ExtensionFor,
    MonitoringPlan,
    TitrationRule,
    diff_protocols,
    maintenance_option_from_dict,
    maintenance_option_to_dict,
    protocol_from_dict,
    protocol_from_text,
    protocol_to_dict,
)
from sustain_core.series import SeriesRules

pytestmark = pytest.mark.core

BASE = protocol_to_dict(DEPRESSION_INDUCTION_V1)
CONDITIONS = (
    "depression, anxiety, ptsd, chronic_pain, bipolar_depression, suicidal_ideation, crps, "
    "fibromyalgia, neuropathic_pain"
)
DECIMAL = 'a decimal written as a string, e.g. "0.5"'


def edited(change: Callable[[dict[str, object]], None]) -> dict[str, object]:
    data = copy.deepcopy(BASE)
    change(data)
    return data


def set_in(*path: str | int, value: object) -> Callable[[dict[str, object]], None]:
    def change(data: dict[str, object]) -> None:
        target: object = data
        for step in path[:-1]:
            target = target[step]  # type: ignore[index]
        target[path[-1]] = value  # type: ignore[index]

    return change


def without(key: str) -> Callable[[dict[str, object]], None]:
    return lambda data: data.__delitem__(key)


def test_depression_standard_dict_shape() -> None:
    titration = cast(list[object], BASE["titration"])
    plan = cast(list[object], BASE["measurement_plan"])

    assert (BASE["regimen"], BASE["series"], titration[0], plan[0]) == (
        {
            "kind": "per_session",
            "infusion_minutes": 40,
            "mg_per_kg": "0.5",
            "mg_per_kg_per_h": None,
            "cap_mg_per_h": None,
            "max_single_dose_mg": None,
        },
        {
            "count": 6,
            "min_gap_hours": 48,
            "max_span_days": 21,
            "max_gap_hours": None,
            "weekdays": None,
            "max_per_week": 3,
        },
        {
            "trigger": "no_response",
            "action": "increase",
            "step_mg_per_kg": "0.25",
            "limit_mg_per_kg": "0.75",
            "after_infusion": 2,
            "source": DEPRESSION_INDUCTION_V1.titration[0].source,
        },
        {
            "key": "baseline",
            "anchor": "before_first_infusion",
            "instruments": ["phq9", "gad7"],
            "offset_hours": 0,
            "window_before_hours": 168,
            "window_after_hours": 0,
            "interval_hours": None,
            "self_report": True,
            "from_infusion": 1,
        },
    )


def test_optional_fields_may_be_left_out() -> None:
    data = {
        key: value
        for key, value in BASE.items()
        if key
        in {
            "key",
            "version",
            "title",
            "condition",
            "indications",
            "regimen",
            "bag_volume_ml",
            "series",
            "instrument",
            "baseline_measures",
            "measurement_plan",  # a psychiatric protocol must plan a suicide item (issue 11)
        }
    }

    protocol = protocol_from_dict(data)

    assert (
        protocol.citations,
        protocol.safety,
        protocol.relapse_confirmation_days,
        protocol.response_fraction,
        protocol.notes,
        protocol.monitoring,
        protocol.partial_response_fraction,
        protocol.extension_for,
    ) == (
        (), DEPRESSION_INDUCTION_V1.safety, 7, Decimal("0.5"), "", MonitoringPlan(),
        Decimal("0.25"), ExtensionFor.NOT_RESPONDED,
    )  # fmt: skip


def test_a_clinic_version_sets_its_own_partial_band_and_extension_rule() -> None:
    data = edited(set_in("partial_response_fraction", value="0.2"))
    data["extension_for"] = "partial_response"

    protocol = protocol_from_dict(data)

    assert (protocol.partial_response_fraction, protocol.extension_for) == (
        Decimal("0.2"), ExtensionFor.PARTIAL,
    )  # fmt: skip
    assert protocol_from_dict(protocol_to_dict(protocol)) == protocol


REFUSED = [
    pytest.param([], "protocol", "protocol must be a table; got []", id="not-a-table"),
    pytest.param(
        edited(set_in("extension_for", value="everyone")),
        "extension_for",
        "extension_for must be one of not_responded, partial_response; got 'everyone'",
        id="unknown-extension-rule",
    ),
    pytest.param(
        edited(set_in("partial_response_fraction", value=0.25)),
        "partial_response_fraction",
        'partial_response_fraction must be a decimal written as a string, e.g. "0.5"; got 0.25',
        id="partial-fraction-as-a-float",
    ),
    pytest.param(
        edited(set_in("colour", value="blue")),
        "protocol",
        "unknown field colour",
        id="unknown-top-field",
    ),
    pytest.param(
        edited(set_in("series", "min_gap_hour", value=48)),
        "series",
        "unknown field series.min_gap_hour",
        id="misspelt-nested-field",
    ),
    pytest.param(
        edited(set_in("maintenance_options", 0, "steps", 0, "weeks", value=1)),
        "maintenance_options",
        "unknown field maintenance_options[0].steps[0].weeks",
        id="unknown-field-in-a-taper-step",
    ),
    pytest.param(edited(without("key")), "key", "key must be text; got None", id="missing-key"),
    pytest.param(
        edited(set_in("version", value="1")),
        "version",
        "version must be a whole number; got '1'",
        id="version-as-text",
    ),
    pytest.param(
        edited(set_in("series", "count", value=True)),
        "series",
        "series.count must be a whole number; got True",
        id="bool-is-not-a-number",
    ),
    pytest.param(
        edited(set_in("regimen", "mg_per_kg", value=0.5)),
        "regimen",
        f"regimen.mg_per_kg must be {DECIMAL}; got 0.5",
        id="float-dose",
    ),
    pytest.param(
        edited(set_in("regimen", "mg_per_kg", value="half")),
        "regimen",
        f"regimen.mg_per_kg must be {DECIMAL}; got 'half'",
        id="dose-not-a-number",
    ),
    pytest.param(
        edited(set_in("regimen", "mg_per_kg", value="NaN")),
        "regimen",
        f"regimen.mg_per_kg must be {DECIMAL}; got 'NaN'",
        id="dose-not-finite",
    ),
    pytest.param(
        edited(without("bag_volume_ml")),
        "bag_volume_ml",
        f"bag_volume_ml must be {DECIMAL}; got None",
        id="missing-decimal",
    ),
    pytest.param(
        edited(set_in("bag_convention", value="neither")),
        "bag_convention",
        "bag_convention must be one of withdraw, add; got 'neither'",
        id="unknown-bag-convention",
    ),
    pytest.param(
        edited(set_in("condition", value="grief")),
        "condition",
        f"condition must be one of {CONDITIONS}; got 'grief'",
        id="unknown-condition",
    ),
    pytest.param(
        edited(set_in("indications", value=["grief"])),
        "indications",
        f"indications must be a list of {CONDITIONS}; got ['grief']",
        id="unknown-indication",
    ),
    pytest.param(
        edited(set_in("baseline_measures", value=[9])),
        "baseline_measures",
        "baseline_measures must be a list of text; got [9]",
        id="measure-not-text",
    ),
    pytest.param(
        edited(set_in("required_medication_classes", value=["antipsychotic"])),
        "required_medication_classes",
        "required_medication_classes must be a list of benzodiazepine, opioid, cns_depressant, "
        "lamotrigine, maoi, sympathomimetic, theophylline, mood_stabiliser; got "
        "['antipsychotic']",
        id="unknown-medication-class",
    ),
    pytest.param(
        edited(set_in("required_medication_classes", value=["mood_stabiliser"] * 2)),
        "required_medication_classes",
        "each required medication class is listed once; got mood_stabiliser, mood_stabiliser",
        id="medication-class-twice",
    ),
    pytest.param(
        edited(set_in("citations", value={})),
        "citations",
        "citations must be a list of tables; got {}",
        id="citations-not-a-list",
    ),
    pytest.param(
        edited(set_in("citations", value=["Murrough2013"])),
        "citations",
        "citations[0] must be a table; got 'Murrough2013'",
        id="citation-not-a-table",
    ),
    pytest.param(
        edited(set_in("measurement_plan", 0, "self_report", value="no")),
        "measurement_plan",
        "measurement_plan[0].self_report must be true or false; got 'no'",
        id="flag-not-a-bool",
    ),
    pytest.param(
        edited(set_in("series", "weekdays", value=[0, "Wednesday"])),
        "series",
        "series.weekdays must be a list of whole numbers; got [0, 'Wednesday']",
        id="weekday-by-name",
    ),
    pytest.param(
        edited(set_in("series", "max_span_days", value=7)),
        "series",
        "6 sessions at least 48 h apart, each 2 h long, need 10 days 2 h from the first "
        "start to the last end; max_span is 7 days",
        id="validated-after-reading",
    ),
]


@pytest.mark.parametrize(("data", "field", "message"), REFUSED)
def test_protocol_from_dict_refuses(data: object, field: str, message: str) -> None:
    with pytest.raises(ClinicalValueError) as raised:
        protocol_from_dict(data)  # type: ignore[arg-type]

    assert (raised.value.field, raised.value.message) == (field, message)


@pytest.mark.parametrize(
    ("protocol", "field", "message"),
    [
        pytest.param(
            replace(
                DEPRESSION_INDUCTION_V1,
                series=SeriesRules(6, dt.timedelta(hours=47, minutes=30), dt.timedelta(days=21)),
            ),
            "series",
            "series.min_gap_hours must be a whole number of hours; got 1 day, 23:30:00",
            id="gap-with-minutes",
        ),
        pytest.param(
            replace(
                DEPRESSION_INDUCTION_V1,
                maintenance_options=(
                    MaintenanceOption(
                        MaintenanceKind.SYMPTOM_TRIGGERED,
                        "Booster on relapse, 24 h 30 min apart at least",
                        min_gap=dt.timedelta(hours=24, minutes=30),
                    ),
                ),
            ),
            "maintenance_options",
            "maintenance_options[0].min_gap_hours must be a whole number of hours; got "
            "1 day, 0:30:00",
            id="min-gap-with-minutes",
        ),
    ],
)
def test_protocol_to_dict_refuses_durations_the_shape_cannot_hold(
    protocol: object, field: str, message: str
) -> None:
    with pytest.raises(ClinicalValueError) as raised:
        protocol_to_dict(protocol)  # type: ignore[arg-type]

    assert (raised.value.field, raised.value.message) == (field, message)


def test_bag_convention_is_written_and_read_back() -> None:
    added = replace(DEPRESSION_INDUCTION_V1, bag_convention=BagConvention.ADD)

    data = protocol_to_dict(added)

    assert (BASE["bag_convention"], data["bag_convention"]) == ("withdraw", "add")
    assert protocol_from_dict(data) == added
    assert diff_protocols(DEPRESSION_INDUCTION_V1, added) == [("bag_convention", "withdraw", "add")]


@pytest.mark.parametrize("missing", [None, "absent"])
def test_a_clinic_version_saved_before_the_bag_convention_withdraws(missing: str | None) -> None:
    data = copy.deepcopy(BASE)
    if missing is None:
        data["bag_convention"] = None
    else:
        del data["bag_convention"]

    assert protocol_from_dict(data).bag_convention == BagConvention.WITHDRAW


def test_the_model_refuses_an_unknown_bag_convention() -> None:
    with pytest.raises(ClinicalValueError) as raised:
        replace(DEPRESSION_INDUCTION_V1, bag_convention="neither")  # type: ignore[arg-type]

    assert (raised.value.field, raised.value.message) == (
        "bag_convention",
        "bag_convention must be withdraw or add; got 'neither'",
    )


def test_diff_protocols_lists_changed_paths() -> None:
    old = DEPRESSION_INDUCTION_V1
    new = replace(
        old,
        version=2,
        series=replace(old.series, count=8, max_span=dt.timedelta(days=28)),
        titration=(
            *old.titration[:2],
            TitrationRule(
                old.titration[2].trigger,
                old.titration[2].action,
                Decimal("0.25"),
                Decimal("0.25"),
                source="clinic rule",
            ),
        ),
        maintenance_options=old.maintenance_options[:2],
        baseline_measures=("phq9", "gad7", "qids_sr16"),
    )

    assert diff_protocols(old, new) == [
        ("version", 1, 2),
        ("series.count", 6, 8),
        ("series.max_span_days", 21, 28),
        ("baseline_measures", ["phq9", "gad7"], ["phq9", "gad7", "qids_sr16"]),
        ("titration[2].source", old.titration[2].source, "clinic rule"),
        ("maintenance_options[2].kind", "fixed_interval", None),
        ("maintenance_options[2].label", "Booster every 4 weeks", None),
        ("maintenance_options[2].interval_days", 28, None),
        ("maintenance_options[2].citation", old.maintenance_options[2].citation, None),
    ]


def test_diff_protocols_lists_paths_only_the_new_version_has() -> None:
    old = replace(DEPRESSION_INDUCTION_V1, maintenance_options=())
    new = DEPRESSION_INDUCTION_V1

    assert [path for path, _, _ in diff_protocols(old, new)][:3] == [
        "maintenance_options[0].kind",
        "maintenance_options[0].label",
        "maintenance_options[0].steps[0].count",
    ]


def test_diff_protocols_of_equal_protocols_is_empty() -> None:
    assert diff_protocols(DEPRESSION_INDUCTION_V1, DEPRESSION_INDUCTION_V1) == []


# -- A maintenance option on its own (e.g. the plan a signed review chose) -----------------------

ON_RELAPSE_36_H = MaintenanceOption(
    MaintenanceKind.SYMPTOM_TRIGGERED,
    "On confirmed relapse, at least 36 h apart",
    min_gap=dt.timedelta(hours=36),
    citation="a clinic's choice (unconfirmed)",
)


def test_maintenance_option_dict_keeps_a_36_hour_gap() -> None:
    data = maintenance_option_to_dict(ON_RELAPSE_36_H)

    assert data == {
        "kind": "symptom_triggered",
        "label": "On confirmed relapse, at least 36 h apart",
        "interval_days": None,
        "steps": [],
        "min_gap_hours": 36,
        "citation": "a clinic's choice (unconfirmed)",
    }
    assert maintenance_option_from_dict(data) == ON_RELAPSE_36_H
    assert maintenance_option_from_dict(data).min_gap == dt.timedelta(hours=36)


@pytest.mark.parametrize(
    "option",
    [
        pytest.param(option, id=f"{key}-v{version}-{number}")
        for (key, version), protocol in sorted(PROTOCOLS.items())
        for number, option in enumerate(protocol.maintenance_options)
    ],
)
def test_every_library_maintenance_option_round_trips(option: MaintenanceOption) -> None:
    assert maintenance_option_from_dict(maintenance_option_to_dict(option)) == option


def test_maintenance_option_dict_is_a_protocols_item() -> None:
    assert [
        maintenance_option_to_dict(option) for option in DEPRESSION_INDUCTION_V1.maintenance_options
    ] == BASE["maintenance_options"]


@pytest.mark.parametrize(
    ("data", "error", "field", "message"),
    [
        pytest.param(
            {
                "kind": "taper",
                "label": "Weekly",
                "steps": [{"count": 4, "interval_days": 7, "weeks": 1}],
            },
            ClinicalValueError,
            "maintenance_option",
            "unknown field maintenance_option.steps[0].weeks",
            id="unknown-step-field",
        ),
        pytest.param(
            {
                "kind": "symptom_triggered",
                "label": "On relapse",
                "min_gap_hours": 48,
                "min_gap_days": 2,
            },
            ClinicalValueError,
            "maintenance_option",
            "unknown field maintenance_option.min_gap_days",
            id="min-gap-in-days",
        ),
        pytest.param(
            {"kind": "fixed_interval", "label": "Monthly", "interval_days": "28"},
            ClinicalValueError,
            "maintenance_option",
            "maintenance_option.interval_days must be a whole number; got '28'",
            id="interval-as-text",
        ),
        pytest.param(
            {"kind": "fixed_interval", "label": "Monthly"},
            ClinicalValueError,
            "interval",
            "a fixed-interval plan needs interval; got none",
            id="option-checked",
        ),
    ],
)
def test_maintenance_option_from_dict_refuses(
    data: dict[str, object], error: type[ClinicalValueError], field: str, message: str
) -> None:
    with pytest.raises(error) as raised:
        maintenance_option_from_dict(data)

    assert (type(raised.value), raised.value.field, raised.value.message) == (
        error,
        field,
        message,
    )


def test_maintenance_option_to_dict_refuses_a_gap_in_minutes() -> None:
    option = replace(ON_RELAPSE_36_H, min_gap=dt.timedelta(minutes=90))

    with pytest.raises(ClinicalValueError) as raised:
        maintenance_option_to_dict(option)

    assert (raised.value.field, raised.value.message) == (
        "maintenance_option",
        "maintenance_option.min_gap_hours must be a whole number of hours; got 1:30:00",
    )


SHIROMA_FILE = "shiroma-2014.v1.toml"


def test_protocol_from_text_reads_toml_and_json() -> None:
    shiroma = (importlib.resources.files("sustain_core.protocol_library") / SHIROMA_FILE).read_text(
        encoding="utf-8"
    )
    as_json = json.dumps(protocol_to_dict(DEPRESSION_INDUCTION_V1))

    assert protocol_from_text(shiroma, fmt="toml").key == "shiroma-2014"
    assert protocol_from_text(as_json, fmt="json") == DEPRESSION_INDUCTION_V1


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        ("key = \n", "toml", "not valid TOML: Invalid value (at line 1, column 7)"),
        ('{"key": ', "json", "not valid JSON at line 1, column 9: Expecting value"),
        ("key: x", "yaml", "a protocol file is toml or json; got 'yaml'"),
        (
            json.dumps(
                protocol_to_dict(DEPRESSION_INDUCTION_V1)
                | {"series": {"count": 6, "min_gap_hours": 10**20, "max_span_days": 21}}
            ),
            "json",
            "a number is too large to use: Python int too large to convert to C int",
        ),
    ],
    ids=["toml", "json", "yaml", "overflow"],
)
def test_protocol_from_text_refuses_what_it_cannot_read(text: str, fmt: str, message: str) -> None:
    with pytest.raises(ClinicalValueError) as refused:
        protocol_from_text(text, fmt=fmt)

    assert (refused.value.field, refused.value.message) == ("protocol", message)
