"""A site's own rules (issue 9, item 3): per site, versioned, shown on a page, changed only by
the roles allowed with a reason and an audit event; each infusion keeps its version."""

import datetime as dt

import pytest
import time_machine

from sustain.accounts.models import AuditEvent
from sustain.care import rules
from sustain.care.models import ClinicRules
from sustain_core import clinic_rules
from sustain_core.errors import ClinicalValueError
from tests.sustain import clinic_builders as build
from tests.sustain.conftest import make_user

pytestmark = pytest.mark.db

NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)
CLINICAL = {
    "weight_max_age_days": "14",
    "baseline_max_age_days": "30",
    "dosing_weight_basis": "adjusted",  # the default (issue 11)
    "dosing_bmi_threshold": "30",
    "qids_suicide_threshold": "2",
    "madrs_suicide_threshold": "2",
    "ymrs_alert_threshold": "12",
    "fiqr_min_answered_per_domain": "1",
    "alert_emails": "on",
    "fasting_food_hours": "6",
    "fasting_clear_fluids_hours": "2",
    "booster_risk_percent": "20",
    "booster_risk_horizon_days": "14",
}


@pytest.fixture
def alex(north):
    return make_user("alex", "clinic_admin", north)


def change(site, by, based_on=0, reason="a reason", **changes):
    return rules.change_rules(
        site=site, changes=changes, based_on=based_on, reason=reason, by=by, now=NOW
    )


def test_a_site_starts_on_the_defaults_unsaved(north):
    current = rules.current_rules(north)
    assert (current.pk, current.version, current.as_rules()) == (None, 0, clinic_rules.DEFAULT)


def test_a_change_is_a_new_audited_version_and_the_old_one_stays(north, south, ada):
    first = change(north, ada, weight_max_age_days=14, reason="weigh every fortnight")
    second = change(north, ada, based_on=1, qids_suicide_threshold=2, reason="team decision")

    versions = ClinicRules.objects.filter(site=north).order_by("version")
    assert [(r.version, r.weight_max_age_days, r.qids_suicide_threshold) for r in versions] == [
        (1, 14, 1),
        (2, 14, 2),
    ]
    assert (first.changed_by, second.reason) == (ada, "team decision")
    assert rules.current_rules(north) == second
    assert rules.current_rules(south).version == 0  # another site keeps its own
    events = AuditEvent.objects.filter(category="clinic-rules")
    assert [(e.action, e.actor, e.site, e.object_id) for e in events] == [
        ("update", ada, north, str(first.pk)),
        ("update", ada, north, str(second.pk)),
    ]
    assert [(row.version, changed) for row, changed in rules.history(north)] == [
        (2, ("qids_suicide_threshold",)),
        (1, ("weight_max_age_days",)),
    ]


@pytest.mark.parametrize(
    ("who", "changes", "field", "message"),
    [
        ("ben", {"weight_max_age_days": 14}, "weight_max_age_days",
         "only a prescriber changes this rule"),
        ("alex", {"alert_emails": False}, "alert_emails", "only a prescriber changes this rule"),
        ("ada", {"reminder_hours": (24,)}, "reminder_hours",
         "only a clinic administrator changes this rule"),
        ("ada", {"weight_max_age_days": 400}, "weight_max_age_days",
         "the maximum weight age must be a whole number of days from 0 to 365; got 400"),
        ("ada", {"weight_max_age_days": 30}, "rules", "nothing changed"),
        ("ada", {"max_dose": 3}, "rules", "no such clinic rule: max_dose"),
    ],
)  # fmt: skip
def test_refused_changes_name_the_rule_and_save_nothing(
    north, ada, ben, alex, who, changes, field, message
):
    by = {"ada": ada, "ben": ben, "alex": alex}[who]
    with pytest.raises(ClinicalValueError) as refused:
        change(north, by, **changes)
    assert (refused.value.field, refused.value.message) == (field, message)
    audited = AuditEvent.objects.filter(category="clinic-rules").count()
    assert (ClinicRules.objects.count(), audited) == (0, 0)


def test_a_change_needs_a_reason_and_the_version_it_was_based_on(north, ada):
    with pytest.raises(ClinicalValueError) as refused:
        change(north, ada, weight_max_age_days=14, reason="  ")
    assert refused.value.message == "say why the rules change"
    change(north, ada, weight_max_age_days=14)
    with pytest.raises(ClinicalValueError) as refused:  # a form shown before version 1
        change(north, ada, based_on=0, weight_max_age_days=7)
    assert refused.value.message == "someone changed the rules meanwhile; reload and try again"
    assert rules.current_rules(north).weight_max_age_days == 14


@pytest.mark.parametrize("user", ["ada", "ben", "sam", "ivy", "alex"])
def test_every_role_sees_the_rules_and_only_its_own_forms(
    login, north, ada, ben, sam, ivy, alex, user
):
    response = login(locals()[user]).get("/clinic-rules/")
    assert response.status_code == 200
    assert sorted(response.context["forms"]) == {
        "ada": ["clinical"], "alex": ["messages"]
    }.get(user, [])  # fmt: skip
    assert "48 h, 24 h before each visit" in response.content.decode()


def test_a_prescriber_changes_the_dosing_rules_on_the_page(login, north, ada):
    client = login(ada)
    data = CLINICAL | {"site": north.pk, "based_on": 0, "reason": "weigh every fortnight"}

    response = client.post("/clinic-rules/clinical/", data)

    assert response.status_code == 302
    assert rules.current_rules(north).as_rules() == clinic_rules.ClinicRules(
        weight_max_age_days=14, qids_suicide_threshold=2
    )
    page = client.get(response["Location"]).content.decode()
    assert "Clinic rules saved as version 1." in page
    assert "A dose needs a weight from the last (days), QIDS-SR16 item 12" in page  # history


def test_a_refused_value_is_shown_on_its_field_in_plain_words(login, north, ada):
    data = CLINICAL | {"site": north.pk, "based_on": 0, "reason": "typo"}
    data["qids_suicide_threshold"] = "7"

    response = login(ada).post("/clinic-rules/clinical/", data)

    assert response.status_code == 400
    assert response.context["forms"]["clinical"].errors == {
        "qids_suicide_threshold": [
            "The QIDS-SR16 item 12 alert threshold must be a whole number from 1 to 3; got 7"
        ]
    }
    assert ClinicRules.objects.count() == 0


@pytest.mark.parametrize(
    ("raw", "hours", "error"),
    [("72, 24", [72, 24], None), ("", [], None), ("24, 72", None,
     "Reminder hours must be at most 4 different whole hours from 1 to 336, largest first; got "
     "(24, 72)"), ("48h", None, "Give whole hours separated by commas, e.g. 48, 24.")],
)  # fmt: skip
def test_an_administrator_sets_the_reminder_hours(login, north, alex, raw, hours, error):
    data = {"site": north.pk, "based_on": 0, "reason": "new reminders", "reminder_hours": raw,
            "visit_preparation": "Eat lightly; bring an adult."}  # fmt: skip

    response = login(alex).post("/clinic-rules/messages/", data)

    if error is None:
        assert (response.status_code, rules.current_rules(north).reminder_hours) == (302, hours)
    else:
        assert response.context["forms"]["messages"].errors == {"reminder_hours": [error]}


def test_a_nurse_cannot_post_either_form(login, north, ben):
    client = login(ben)
    assert client.post("/clinic-rules/clinical/", CLINICAL | {"site": north.pk}).status_code == 403
    assert client.post("/clinic-rules/messages/", {"site": north.pk}).status_code == 403
    assert client.post("/clinic-rules/other/", {"site": north.pk}).status_code == 404


@time_machine.travel(NOW, tick=False)
def test_an_infusion_keeps_the_rules_it_was_dosed_under(pat, ada, ben, sam, stocked):
    course = build.ready_for_series(
        pat, prescriber=ada, nurse=ben, now=NOW, phq9_total=18, gad7_total=14
    )
    visits = build.book_series(course, sam, first=NOW + dt.timedelta(days=3), now=NOW)
    first = build.give_infusion(visits[0], ben)
    assert (first.clinic_rules.version, first.clinic_rules.reason) == (1, rules.DEFAULTS_ADOPTED)

    change(pat.site, ada, based_on=1, weight_max_age_days=14)
    second = build.give_infusion(visits[1], ben, pre_phq9=build.phq9(15))
    first.refresh_from_db()
    assert (first.clinic_rules.version, second.clinic_rules.version) == (1, 2)
    assert (first.clinic_rules.weight_max_age_days, second.clinic_rules.weight_max_age_days) == (
        30,
        14,
    )
