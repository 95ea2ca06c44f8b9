"""Only a prescriber designated medical director of a site publishes a clinic version that
changes dosing or safety; administrators edit wording and scheduling only (issue 11, item 3)."""

import datetime as dt
import json

import pytest

from sustain.accounts import directors
from sustain.accounts.models import AuditEvent, Membership, User
from sustain.care import protocol_form, protocol_versions
from sustain.care.models import ClinicProtocol
from sustain_core import protocols
from sustain_core.errors import ClinicalValueError
from tests.sustain.conftest import make_user

pytestmark = pytest.mark.db

NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)
STANDARD = protocols.PROTOCOLS[("depression-induction", 1)]
EDIT = "/protocols/depression-induction/v1/new-version/"


def changed(**tables):
    data = protocols.protocol_to_dict(STANDARD)
    for name, changes in tables.items():
        if isinstance(data[name], dict):
            data[name].update(changes)
        else:
            data[name] = changes
    return data


DOSING = changed(regimen={"infusion_minutes": 45})
SAFETY = changed(safety={"stop_spo2_below": 90})
WORDING = changed(title="Depression induction (North)", series={"weekdays": [0, 2, 4]})


def digest(data):
    """What the edit page's save button posts once it has shown the changes."""
    return protocol_form.digest(protocols.protocol_from_dict(data))


def save(by, data, site):
    return protocol_versions.save_version(
        site=site, based_on=STANDARD, data=data, change_note="Our version", by=by, now=NOW
    )


# --- Designation ---------------------------------------------------------------------------


def test_an_administrator_designates_a_prescriber_and_it_is_audited(north, alex, ada):
    assert directors.is_medical_director(ada, north) is False

    membership = directors.designate_medical_director(
        site=north, user=ada, designated=True, by=alex
    )

    assert membership.medical_director is True
    assert directors.is_medical_director(ada, north) is True
    assert directors.medical_directors(north) == [ada]
    event = AuditEvent.objects.filter(category="staff").get()
    assert (event.actor, event.action, event.site, event.object_id) == (
        alex, "update", north, str(membership.pk)
    )  # fmt: skip
    directors.designate_medical_director(site=north, user=ada, designated=False, by=alex)
    assert directors.is_medical_director(ada, north) is False
    assert AuditEvent.objects.filter(category="staff").count() == 2


@pytest.mark.parametrize(
    ("who", "by", "message"),
    [
        ("ben", "alex", "ben is not a prescriber: only a prescriber can be a medical director"),
        ("carl", "alex", "carl is not a member of North Clinic"),
        ("ada", "ada", "a clinic administrator designates medical directors"),
        ("ada", "sam", "a clinic administrator designates medical directors"),
    ],
)
def test_a_designation_is_refused(request, north, who, by, message):
    with pytest.raises(ClinicalValueError) as refused:
        directors.designate_medical_director(
            site=north,
            user=request.getfixturevalue(who),
            designated=True,
            by=request.getfixturevalue(by),
        )

    assert refused.value.message == message
    assert not Membership.objects.filter(medical_director=True).exists()
    assert not AuditEvent.objects.filter(category="staff").exists()


def test_designating_twice_is_refused(north, alex, ada):
    directors.designate_medical_director(site=north, user=ada, designated=True, by=alex)
    with pytest.raises(ClinicalValueError) as again:
        directors.designate_medical_director(site=north, user=ada, designated=True, by=alex)

    assert again.value.message == "ada is already a medical director of North Clinic"


def test_a_director_at_one_site_is_not_one_at_another(north, south, alex, carl):
    Membership.objects.create(user=carl, site=north)
    directors.designate_medical_director(site=north, user=carl, designated=True, by=alex)

    assert (
        directors.is_medical_director(carl, north),
        directors.is_medical_director(carl, south),
    ) == (True, False)


def test_a_director_who_is_no_longer_a_prescriber_is_no_longer_a_director(north, alex, ada):
    directors.designate_medical_director(site=north, user=ada, designated=True, by=alex)
    ada.groups.clear()
    ada = User.objects.get(pk=ada.pk)  # a fresh load: permissions are cached per object

    assert directors.is_medical_director(ada, north) is False
    assert directors.medical_directors(north) == []


# --- Saving a clinic version (the service) ------------------------------------------------


@pytest.mark.parametrize("data", [DOSING, SAFETY], ids=["dosing", "safety"])
@pytest.mark.parametrize("who", ["ada", "alex"])
def test_a_dosing_or_safety_change_needs_a_medical_director(request, north, who, data):
    with pytest.raises(ClinicalValueError) as refused:
        save(request.getfixturevalue(who), data, north)

    changed_path = "regimen.infusion_minutes" if data is DOSING else "safety.stop_spo2_below"
    assert (refused.value.field, refused.value.message) == (
        "data",
        f"only a medical director of North Clinic publishes a change to dosing or safety; this "
        f"version changes {changed_path}. Ask a medical director, or change only wording and "
        "scheduling (title, notes, citations, weekdays, check-in and discharge minutes)",
    )
    assert ClinicProtocol.objects.count() == 0


@pytest.mark.parametrize("who", ["ada", "alex"])
def test_anyone_who_saves_versions_may_change_wording_and_scheduling(request, north, who):
    row = save(request.getfixturevalue(who), WORDING, north)

    diff = protocols.diff_protocols(STANDARD, protocols.protocol_from_dict(row.data))
    assert [change for change in diff if change[0] != "key"] == [
        ("title", STANDARD.title, "Depression induction (North)"),
        ("series.weekdays", None, [0, 2, 4]),
    ]


@pytest.mark.parametrize("data", [DOSING, SAFETY], ids=["dosing", "safety"])
def test_a_medical_director_publishes_a_dosing_or_safety_change(north, alex, ada, data):
    directors.designate_medical_director(site=north, user=ada, designated=True, by=alex)

    row = save(ada, data, north)

    assert protocols.clinical_changes(STANDARD, protocols.protocol_from_dict(row.data)) == [
        "regimen.infusion_minutes" if data is DOSING else "safety.stop_spo2_below"
    ]


def test_a_director_of_another_site_cannot_publish_here(north, south, carl):
    sue = make_user("sue", "clinic_admin", south)
    directors.designate_medical_director(site=south, user=carl, designated=True, by=sue)

    with pytest.raises(ClinicalValueError) as refused:
        save(carl, DOSING, north)

    assert refused.value.message.startswith("only a medical director of North Clinic")


def test_a_role_that_saves_no_versions_is_refused(north, ben):
    with pytest.raises(ClinicalValueError) as refused:
        save(ben, WORDING, north)

    assert refused.value.message == "your role does not save protocol versions"


def test_a_guardrail_breach_is_named_before_authority(north, alex):
    with pytest.raises(ClinicalValueError) as refused:
        save(alex, changed(safety={"stop_spo2_below": 50}), north)

    assert refused.value.field == "safety"


# --- Saving a clinic version (the page) -----------------------------------------------------


@pytest.mark.parametrize("who", ["ada", "alex"])
def test_the_edit_page_refuses_a_dosing_change_without_a_director(request, login, north, who):
    response = login(request.getfixturevalue(who)).post(
        EDIT,
        {
            "data": json.dumps(DOSING),
            "change_note": "45-minute infusions",
            "confirm": digest(DOSING),
        },
    )

    assert response.status_code == 400
    assert response.context["error"].startswith(
        "data: only a medical director of North Clinic publishes a change to dosing or safety"
    )
    assert ClinicProtocol.objects.count() == 0


def test_the_edit_page_saves_an_administrators_wording_change(login, north, alex):
    response = login(alex).post(
        EDIT, {"data": json.dumps(WORDING), "change_note": "Our days", "confirm": digest(WORDING)}
    )

    assert response.status_code == 302
    assert ClinicProtocol.objects.get().created_by == alex


def test_the_edit_page_saves_a_directors_dosing_change(login, north, alex, ada):
    directors.designate_medical_director(site=north, user=ada, designated=True, by=alex)

    response = login(ada).post(
        EDIT, {"data": json.dumps(DOSING), "change_note": "45 min", "confirm": digest(DOSING)}
    )

    assert response.status_code == 302
    row = ClinicProtocol.objects.get()
    assert protocols.protocol_from_dict(row.data).regimen.infusion_minutes == 45


def test_the_edit_page_names_every_guardrail_broken(login, north, alex):
    data = changed(safety={"stop_spo2_below": 50}, series={"min_gap_hours": 1})
    response = login(alex).post(EDIT, {"data": json.dumps(data), "change_note": "typo"})

    error = response.context["error"]
    assert response.status_code == 400
    assert error.startswith("safety: safety.stop_spo2_below must be from 85 to 95 %; got 50")
    assert "; series: series.min_gap must be at least 24 h between two infusions" in error


# --- The staff page ------------------------------------------------------------------------


def test_the_staff_page_lists_the_prescribers_and_their_directors(login, north, alex, ada, ben):
    directors.designate_medical_director(site=north, user=ada, designated=True, by=alex)

    response = login(ben).get("/schedule/staff/")

    assert response.context["prescribers"] == [(ada, True)]
    assert response.context["can_designate"] is False
    assert "Medical directors" in response.content.decode()


def test_an_administrator_designates_on_the_staff_page(login, north, alex, ada):
    page = login(alex).get("/schedule/staff/").content.decode()
    assert 'aria-label="Designate ada medical director"' in page

    response = login(alex).post(
        "/schedule/staff/medical-directors/",
        {"site": north.pk, "user": ada.pk, "designated": "yes"},
        follow=True,
    )

    assert "ada is now a medical director." in response.content.decode()
    assert response.context["prescribers"] == [(ada, True)]
    response = login(alex).post(
        "/schedule/staff/medical-directors/",
        {"site": north.pk, "user": ada.pk, "designated": "no"},
        follow=True,
    )
    assert response.context["prescribers"] == [(ada, False)]


def test_the_staff_page_designates_only_the_sites_prescribers(login, north, alex, ben):
    response = login(alex).post(
        "/schedule/staff/medical-directors/",
        {"site": north.pk, "user": ben.pk, "designated": "yes"},
        follow=True,
    )

    assert "Choose one of this site&#x27;s prescribers." in response.content.decode()
    assert not Membership.objects.filter(medical_director=True).exists()


def test_a_prescriber_cannot_designate_on_the_staff_page(login, north, ada):
    response = login(ada).post(
        "/schedule/staff/medical-directors/",
        {"site": north.pk, "user": ada.pk, "designated": "yes"},
    )

    assert response.status_code == 403
    assert not Membership.objects.filter(medical_director=True).exists()


def test_the_edit_page_refuses_a_number_too_large_without_an_error_page(login, north, alex):
    data = changed(series={"min_gap_hours": 10**20})
    response = login(alex).post(EDIT, {"data": json.dumps(data), "change_note": "typo"})

    assert response.status_code == 400
    assert response.context["error"].startswith("data: a number has at most 9 digits")
    assert ClinicProtocol.objects.count() == 0
