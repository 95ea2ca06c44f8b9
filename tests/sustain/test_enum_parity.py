"""The Django layer's choices mirror the core's enums exactly: one source per value (issue 9,
item 5). A value added to one side and not the other fails here, not in production."""

from enum import Enum

import pytest
from django.db import models

from sustain.care.enums import Condition, CourseStatus
from sustain.care.models import ClinicRules
from sustain.infusion.enums import PregnancyTest, Stage
from sustain.scheduling.enums import ChairCapability, TemplatePhase
from sustain_core import course, dosing, infusion_day, protocols

PAIRS = [
    pytest.param(CourseStatus, list(course.Phase), id="course-status=phase"),
    pytest.param(TemplatePhase, list(protocols.VisitPhaseName), id="template-phase=visit-phase"),
    pytest.param(ChairCapability, list(protocols.ChairCapability), id="chair-capability"),
    pytest.param(Stage, list(infusion_day.Stage), id="chairside-stage"),
    pytest.param(PregnancyTest, list(infusion_day.PregnancyTest), id="pregnancy-test"),
]


@pytest.mark.parametrize(("choices", "core"), PAIRS)
def test_django_choices_mirror_the_core_enum_in_order(
    choices: type[models.TextChoices], core: list[Enum]
) -> None:
    assert choices.values == [member.value for member in core]


def test_primary_conditions_are_the_cores() -> None:
    assert set(Condition.values) == {str(c) for c in protocols.PRIMARY_CONDITIONS}


def test_the_weight_basis_choices_are_the_cores() -> None:
    field = ClinicRules._meta.get_field("dosing_weight_basis")
    assert [value for value, _ in field.choices] == [b.value for b in dosing.WeightBasis]
