"""A protocol's monitoring plan: defaults, validation, and its place in the dict shape."""

import copy
from dataclasses import replace

import pytest

from sustain_core.errors import ClinicalValueError
from sustain_core.protocols import (
    DEPRESSION_INDUCTION_V1,
    MonitoringPlan,
    diff_protocols,
    protocol_from_dict,
    protocol_to_dict,
)

pytestmark = pytest.mark.core


def test_monitoring_plan_defaults() -> None:
    plan = DEPRESSION_INDUCTION_V1.monitoring

    assert plan == MonitoringPlan()
    assert (
        plan.vitals_every_minutes,
        plan.cadss_after_start_minutes,
        plan.min_observation_minutes,
        plan.aldrete_min,
        plan.vitals_return_percent,
        plan.pregnancy_test,
    ) == (15, None, 60, 9, 20, False)
    assert "(unconfirmed)" in plan.source


OWN_PLAN = MonitoringPlan(
    vitals_every_minutes=10,
    cadss_after_start_minutes=40,
    min_observation_minutes=90,
    aldrete_min=10,
    vitals_return_percent=15,
    pregnancy_test=True,
    source="the clinic's plan (unconfirmed)",
)


def test_monitoring_plan_round_trips_and_shows_in_diffs() -> None:
    mine = replace(DEPRESSION_INDUCTION_V1, version=2, monitoring=OWN_PLAN)
    data = protocol_to_dict(mine)

    assert data["monitoring"] == {
        "vitals_every_minutes": 10,
        "cadss_after_start_minutes": 40,
        "min_observation_minutes": 90,
        "aldrete_min": 10,
        "vitals_return_percent": 15,
        "pregnancy_test": True,
        "source": "the clinic's plan (unconfirmed)",
    }
    assert protocol_from_dict(data) == mine
    assert diff_protocols(DEPRESSION_INDUCTION_V1, mine) == [
        ("version", 1, 2),
        ("monitoring.vitals_every_minutes", 15, 10),
        ("monitoring.cadss_after_start_minutes", None, 40),
        ("monitoring.min_observation_minutes", 60, 90),
        ("monitoring.aldrete_min", 9, 10),
        ("monitoring.vitals_return_percent", 20, 15),
        ("monitoring.pregnancy_test", False, True),
        ("monitoring.source", MonitoringPlan().source, "the clinic's plan (unconfirmed)"),
    ]


def test_monitoring_absent_or_partial_means_the_defaults() -> None:
    data = protocol_to_dict(DEPRESSION_INDUCTION_V1)
    del data["monitoring"]
    assert protocol_from_dict(data).monitoring == MonitoringPlan()

    data["monitoring"] = {"pregnancy_test": True, "cadss_after_start_minutes": None}
    assert protocol_from_dict(data).monitoring == MonitoringPlan(pregnancy_test=True)


@pytest.mark.parametrize(
    ("monitoring", "message"),
    [
        ({"vitals_every_minutes": 0}, "monitoring.vitals_every_minutes must be a whole number "
         "from 1 to 60; got 0"),
        ({"vitals_every_minutes": 61}, "monitoring.vitals_every_minutes must be a whole number "
         "from 1 to 60; got 61"),
        ({"cadss_after_start_minutes": 0}, "monitoring.cadss_after_start_minutes must be a whole "
         "number from 1 to 600; got 0"),
        ({"cadss_after_start_minutes": 601}, "monitoring.cadss_after_start_minutes must be a "
         "whole number from 1 to 600; got 601"),
        ({"min_observation_minutes": -1}, "monitoring.min_observation_minutes must be a whole "
         "number from 0 to 600; got -1"),
        ({"aldrete_min": 11}, "monitoring.aldrete_min must be a whole number from 0 to 10; "
         "got 11"),
        ({"vitals_return_percent": 0}, "monitoring.vitals_return_percent must be a whole number "
         "from 1 to 100; got 0"),
        ({"vitals_return_percent": 101}, "monitoring.vitals_return_percent must be a whole "
         "number from 1 to 100; got 101"),
        ({"aldrete_min": "9"}, "monitoring.aldrete_min must be a whole number; got '9'"),
        ({"pregnancy_test": "yes"}, "monitoring.pregnancy_test must be true or false; got 'yes'"),
        ({"pulse_oximetry": True}, "unknown field monitoring.pulse_oximetry"),
    ],
    ids=str,
)  # fmt: skip
def test_monitoring_plan_refused_from_a_dict(monitoring: dict[str, object], message: str) -> None:
    data = copy.deepcopy(protocol_to_dict(DEPRESSION_INDUCTION_V1))
    data["monitoring"] = monitoring

    with pytest.raises(ClinicalValueError) as refused:
        protocol_from_dict(data)

    assert (refused.value.field, refused.value.message) == ("monitoring", message)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"vitals_every_minutes": True}, "monitoring.vitals_every_minutes must be a whole number "
         "from 1 to 60; got True"),
        ({"aldrete_min": 8.5}, "monitoring.aldrete_min must be a whole number from 0 to 10; "
         "got 8.5"),
        ({"pregnancy_test": 1}, "monitoring.pregnancy_test must be true or false; got 1"),
    ],
    ids=str,
)  # fmt: skip
def test_monitoring_plan_refuses_wrong_types(change: dict[str, object], message: str) -> None:
    with pytest.raises(ClinicalValueError) as refused:
        MonitoringPlan(**change)  # type: ignore[arg-type]

    assert (refused.value.field, refused.value.message) == ("monitoring", message)


@pytest.mark.parametrize(
    "change",
    [
        {"vitals_every_minutes": 1},
        {"vitals_every_minutes": 60},
        {"cadss_after_start_minutes": 1},
        {"cadss_after_start_minutes": 600},
        {"min_observation_minutes": 0},
        {"min_observation_minutes": 600},
        {"aldrete_min": 0},
        {"aldrete_min": 10},
        {"vitals_return_percent": 1},
        {"vitals_return_percent": 100},
    ],
    ids=str,
)
def test_monitoring_plan_bounds_are_accepted(change: dict[str, int]) -> None:
    assert MonitoringPlan(**change) != MonitoringPlan()  # type: ignore[arg-type]
