"""Protocol pages and clinic versions through the web UI (issue 4, items 3 and 8)."""

import json

import pytest

from sustain.care import protocol_form
from sustain.care.models import ClinicProtocol
from sustain_core import protocols
from tests.sustain.conftest import make_user

pytestmark = pytest.mark.api


def digest(data):
    """What the page's save button posts: the fingerprint of the version whose changes it
    showed (tests/sustain/care/test_protocol_editor.py goes through the showing)."""
    return protocol_form.digest(protocols.protocol_from_dict(data))


@pytest.mark.parametrize(("key", "version"), sorted(protocols.PROTOCOLS))
def test_every_library_protocol_has_a_page(login, ben, key, version):
    response = login(ben).get(f"/protocols/{key}/v{version}/")
    assert response.status_code == 200
    assert response.context["protocol"] == protocols.PROTOCOLS[(key, version)]


def test_murrough_page_shows_monday_wednesday_friday_and_its_outcomes(login, ben):
    response = login(ben).get("/protocols/murrough-2013/v1/")
    html = response.content.decode()
    assert [d.strftime("%a") for d in response.context["dates"]] == ["Mon", "Wed", "Fri"] * 2
    assert response.context["span_days"] == 12
    assert "on Monday, Wednesday, Friday" in html
    assert "Median time to relapse 18 days after the last infusion [Murrough2013]" in html


def test_the_crps_page_shows_its_visit_template_and_chair(login, ben):
    html = login(ben).get("/protocols/crps-schwartzman-2009/v1/").content.decode()
    assert (
        "Each visit holds the chair 320 min: check-in 15 min, infusion 240 min, recovery 60 min, "
        "discharge 5 min; only in a chair with fully reclining (extended)."
    ) in html


def test_admin_saves_a_clinic_version_and_sees_the_diff(login, north, ben):
    # An administrator changes scheduling only (issue 11: dosing and safety need a medical
    # director; tests/sustain/care/test_medical_directors.py).
    admin = make_user("alex", "clinic_admin", north)
    data = protocols.protocol_to_dict(protocols.PROTOCOLS[("depression-induction", 1)])
    data["visit"]["check_in_minutes"] = 20
    response = login(admin).post(
        "/protocols/depression-induction/v1/new-version/",
        {
            "data": json.dumps(data),
            "change_note": "20 minutes to check in",
            "confirm": digest(data),
        },
    )
    row = ClinicProtocol.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/protocols/{row.key}/v1/"
    page = login(ben).get(response["Location"])
    assert [(c.where, c.was, c.now) for c in page.context["changes"]] == [
        ("Series › Check-in (min)", "15", "20")
    ]
    listed = login(ben).get("/protocols/").content.decode()
    assert (
        "Depression induction: 6 infusions over 2–3 weeks, 0.5 mg/kg over 40 min (clinic version 1)"
        in listed
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"series": {"max_span_days": 7}}, "series"),
        ({"instrument": "hamd"}, "instrument"),
    ],
)
def test_invalid_version_is_refused_with_the_rule(login, north, change, message):
    admin = make_user("alex", "clinic_admin", north)
    data = protocols.protocol_to_dict(protocols.PROTOCOLS[("depression-induction", 1)])
    for field, value in change.items():
        if isinstance(value, dict):
            data[field].update(value)
        else:
            data[field] = value
    response = login(admin).post(
        "/protocols/depression-induction/v1/new-version/",
        {"data": json.dumps(data), "change_note": "try"},
    )
    assert response.status_code == 400
    assert response.context["error"].startswith(f"{message}:")
    assert ClinicProtocol.objects.count() == 0


def test_nurse_cannot_save_a_version(login, ben):
    response = login(ben).post("/protocols/depression-induction/v1/new-version/", {})
    assert response.status_code == 403


def test_another_sites_version_is_not_found(login, north, south, carl):
    admin = make_user("alex", "clinic_admin", north)
    data = protocols.protocol_to_dict(protocols.PROTOCOLS[("depression-induction", 1)])
    login(admin).post(
        "/protocols/depression-induction/v1/new-version/",
        {"data": json.dumps(data), "change_note": "copy", "confirm": digest(data)},
    )
    row = ClinicProtocol.objects.get()
    assert login(carl).get(f"/protocols/{row.key}/v1/").status_code == 404


def test_the_page_shows_each_measures_recall_and_the_plans_warnings(login, ben):
    response = login(ben).get("/protocols/depression-induction/v1/")
    html = response.content.decode()

    assert response.context["plan_warnings"] == protocols.plan_warnings(
        protocols.PROTOCOLS[("depression-induction", 1)]
    )
    assert "PHQ-9 (last 2 weeks: [Kroenke2001], clinical-facts §7)" in html
    assert "QIDS-SR16 (last 7 days: [GuidelineCentral-QIDS] [QIDS-Rdoc], clinical-facts §7)" in html
    assert "Asked more often than recalled" in html
    assert (
        "PHQ-9 asks about the last 2 weeks ([Kroenke2001], clinical-facts §7), but the plan asks "
        "for it 24 h apart (before infusion 6 (rule pre_infusion) and 24 h after the last "
        "induction infusion (rule post_induction_24h))"
    ) in html


def test_a_protocol_without_overlapping_measures_shows_no_warning(login, ben):
    response = login(ben).get("/protocols/crps-schwartzman-2009/v1/")

    assert response.context["plan_warnings"] == []
    assert "Asked more often than recalled" not in response.content.decode()


def test_the_page_says_which_measure_each_titration_rule_reads(login, ben):
    html = login(ben).get("/protocols/depression-induction/v1/").content.decode()

    assert (
        "No response yet: increase by 0.25 mg/kg (limit 0.75 mg/kg), from infusion 3. Reads the "
        "PHQ-9, the protocol&#x27;s outcome measure: no fall of 50 % or more from its baseline "
        "yet."
    ) in html
    assert (
        "Dissociation above the hold level: hold. Reads the CADSS total at the last infusion: "
        "above 26." in html
    )
    assert (
        "Blood pressure above the stop level: reduce by 0.25 mg/kg (limit 0.25 mg/kg). Reads the "
        "highest blood pressure during the last infusion: above 180/110 mmHg."
    ) in html


def test_the_page_says_how_the_bag_is_made_up(login, ben):
    html = login(ben).get("/protocols/depression-induction/v1/").content.decode()

    assert (
        "0.5 mg/kg over 40 min in 100 mL (the drug&#x27;s volume withdrawn from the bag first)"
    ) in html
