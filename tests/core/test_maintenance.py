import datetime as dt

import pytest

from sustain_core.maintenance import MaintenanceKind, MaintenanceOption

pytestmark = pytest.mark.core


def test_taper_option_holds_its_steps():
    week = dt.timedelta(days=7)
    option = MaintenanceOption(
        kind=MaintenanceKind.TAPER, label="Weekly ×4, then fortnightly ×2",
        steps=((4, week), (2, 2 * week)),
    )  # fmt: skip
    assert option.steps == ((4, week), (2, 2 * week))
