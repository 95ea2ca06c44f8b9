"""Keeping the chart's facts right (issue 13, items 1 and 5): an MRN per site, race-safe and
searchable; demographics and contacts corrected with the old values kept; allergies recorded
and removed (kept), clinical data the front desk never loads; the preferred contact channel
reminders follow; consent dated within registration and today, corrected by a prescriber with
the old version kept."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from sustain.accounts.enums import AuditAction, Channel, DataCategory
from sustain.accounts.models import AuditEvent, Site, User
from sustain.care import services
from sustain.care.models import Allergy, Consent, Patient
from sustain.care.queries import patients_for_user
from sustain_core.errors import ClinicalValueError
from tests.sustain.conftest import TODAY
from tests.sustain.scheduling.test_booking import run_together

pytestmark = pytest.mark.api

NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)  # Friday 10:00 in New York, after Pat's
# registration (Monday 23 November, 9:00)
THREADS = 4


def register(
    site: Site, by: User, given: str, family: str = "Race", born: dt.date = dt.date(1985, 1, 1)
) -> Patient:
    return services.register_patient(
        by=by, site=site, given_name=given, family_name=family,
        date_of_birth=born, sex="unknown", phone="", email="",
        primary_condition="depression", weight_kg=Decimal("70.0"), today=TODAY,
        now=dt.datetime.combine(TODAY, dt.time(15), tzinfo=dt.UTC), confirm_duplicate=True,
    )  # fmt: skip


def last_event() -> AuditEvent:
    return AuditEvent.objects.order_by("id").last()


# MRN -----------------------------------------------------------------------------------------


def test_each_site_numbers_its_patients_in_turn(north, south, pat, sam, carl):
    second = register(north, sam, "Second")
    southern = register(south, carl, "Southern")
    assert [pat.mrn, second.mrn, southern.mrn] == [
        f"S{north.pk}-000001", f"S{north.pk}-000002", f"S{south.pk}-000001",
    ]  # fmt: skip


def test_the_database_refuses_a_second_patient_with_the_same_mrn(pat, sam):
    other = register(pat.site, sam, "Other")
    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.filter(pk=other.pk).update(mrn=pat.mrn)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_registrations_at_once_take_distinct_mrns(north, sam):
    results = run_together([lambda n=n: register(north, sam, f"P{n}").mrn for n in range(THREADS)])
    assert sorted(results) == [f"S{north.pk}-{n:06d}" for n in range(1, THREADS + 1)]


@pytest.mark.parametrize("q", ["{mrn}", "{mrn_lower}"])
def test_the_list_finds_an_exact_mrn(pat, sam, q):
    other = register(pat.site, sam, "Other")
    term = q.format(mrn=other.mrn, mrn_lower=other.mrn.lower())
    assert [p.pk for p in patients_for_user(sam, q=term).object_list] == [other.pk]
    assert list(patients_for_user(sam, q=other.mrn[:-1]).object_list) == []  # exact only


def test_the_list_and_the_page_show_the_mrn(login, pat, sam):
    client = login(sam)
    assert pat.mrn in client.get("/").content.decode()
    assert f"MRN {pat.mrn}" in client.get(f"/patients/{pat.pk}/").content.decode()


# Demographics --------------------------------------------------------------------------------


def correct(patient: Patient, by: User, reason: str = "typing error at registration", **changes):
    return services.correct_patient(patient=patient, changes=changes, reason=reason, by=by, now=NOW)


def test_a_date_of_birth_correction_keeps_the_old_value_and_is_audited(pat, sam):
    revision = correct(pat, sam, date_of_birth=dt.date(1980, 7, 15))
    event = last_event()
    assert Patient.objects.get(pk=pat.pk).date_of_birth == dt.date(1980, 7, 15)
    assert (revision.changes, revision.reason, revision.changed_by) == (
        {"date_of_birth": ["1980-05-17", "1980-07-15"]}, "typing error at registration", sam,
    )  # fmt: skip
    assert (event.action, event.category, event.patient_id, event.object_id) == (
        AuditAction.UPDATE, DataCategory.DEMOGRAPHICS, pat.pk, str(revision.pk),
    )  # fmt: skip


def test_only_changed_fields_are_kept(pat, ada):
    revision = correct(
        pat, ada, given_name="Pat", family_name="Quinn-Ross", height_cm=Decimal("166.5")
    )
    assert revision.changes == {
        "family_name": ["Quinn", "Quinn-Ross"], "height_cm": ["165", "166.5"],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "reason", "field", "message"),
    [
        ({"date_of_birth": dt.date(2026, 11, 28)}, "x", "date_of_birth",
         "date of birth 2026-11-28 is in the future (today is 2026-11-27)"),
        ({"height_cm": Decimal("5")}, "x", "height_cm",
         "height must be between 100 and 250 cm to at most 0.1 cm; got 5"),
        ({"given_name": "  "}, "x", "given_name", "the given name cannot be blank"),
        ({"email": "not-an-address"}, "x", "email", "not-an-address is not an e-mail address"),
        ({"contact_channel": "pigeon"}, "x", "contact_channel",
         "the preferred contact is one of sms, email, phone, none, or blank"),
        ({"phone": "", "contact_channel": "sms"}, "x", "contact_channel",
         "the preferred contact is text message: record the patient's phone first"),
        ({"mrn": "S9-000009"}, "x", "mrn", "mrn is not corrected here"),
        ({"sex": "female"}, "x", "reason", "nothing to correct: every value is the one recorded"),
        ({"sex": "male"}, " ", "reason", "say why the details change"),
    ],
)  # fmt: skip
def test_a_correction_is_refused_with_the_reason_and_nothing_changes(
    pat, sam, changes, reason, field, message
):
    before = Patient.objects.values().get(pk=pat.pk)
    with pytest.raises(ClinicalValueError) as refused:
        correct(pat, sam, reason=reason, **changes)
    assert (refused.value.field, refused.value.message) == (field, message)
    assert Patient.objects.values().get(pk=pat.pk) == before
    assert not pat.revisions.exists()


def test_a_nurse_does_not_correct_demographics(pat, ben):
    with pytest.raises(ClinicalValueError, match="corrects details"):
        correct(pat, ben, sex="male")


def test_a_name_or_birth_date_change_is_checked_for_duplicates(pat, sam):
    twin = register(pat.site, sam, "Pat", "Quinn", born=dt.date(1980, 5, 18))
    with pytest.raises(services.PossibleDuplicates) as refused:
        correct(pat, sam, date_of_birth=dt.date(1980, 5, 18))
    assert (refused.value.patients, Patient.objects.get(pk=pat.pk).date_of_birth) == (
        [twin], dt.date(1980, 5, 17),
    )  # fmt: skip
    assert "confirm to correct anyway" in refused.value.message
    services.correct_patient(
        patient=pat, changes={"date_of_birth": dt.date(1980, 5, 18)}, reason="checked: twins",
        by=sam, now=NOW, confirm_duplicate=True,
    )  # fmt: skip
    assert Patient.objects.get(pk=pat.pk).date_of_birth == dt.date(1980, 5, 18)


def test_the_database_refuses_an_implausible_height(pat):
    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.filter(pk=pat.pk).update(height_cm=Decimal("5"))


def edit_form(patient: Patient, **fields) -> dict[str, object]:
    data = {name: getattr(patient, name) or "" for name in services.DEMOGRAPHIC_FIELDS}
    data |= {name: getattr(patient, name) for name in services.CONTACT_FIELDS}
    return data | {"reason": "typing error at registration"} | fields


def test_the_front_desk_corrects_a_birth_date_on_its_page(login, pat, sam):
    client = login(sam)
    assert client.get(f"/patients/{pat.pk}/details/").status_code == 200
    response = client.post(
        f"/patients/{pat.pk}/details/",
        edit_form(pat, date_of_birth="1980-07-15", escort_name="Jo Quinn",
                  escort_phone="555-0199", contact_channel="sms"),
    )  # fmt: skip
    page = client.get(f"/patients/{pat.pk}/").content.decode()
    assert response.status_code == 302
    assert "Born 1980-07-15" in page
    assert "Usual escort: Jo Quinn, 555-0199" in page
    assert "date of birth 1980-05-17 → 1980-07-15" in page  # the corrections, listed


def test_the_page_lists_a_possible_duplicate_before_saving(login, pat, sam):
    register(pat.site, sam, "Pat", "Quinn", born=dt.date(1980, 5, 18))
    response = login(sam).post(
        f"/patients/{pat.pk}/details/", edit_form(pat, date_of_birth="1980-05-18")
    )
    assert response.status_code == 400
    assert response.context["duplicates"] != []
    assert Patient.objects.get(pk=pat.pk).date_of_birth == dt.date(1980, 5, 17)


# Contact channel -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "email", "phone", "address"),
    [
        ("", "pat@example.com", "555-0100", (Channel.EMAIL, "pat@example.com")),
        ("", "", "555-0100", (Channel.SMS, "555-0100")),
        ("sms", "pat@example.com", "555-0100", (Channel.SMS, "555-0100")),
        ("email", "pat@example.com", "555-0100", (Channel.EMAIL, "pat@example.com")),
        ("phone", "pat@example.com", "555-0100", None),
        ("none", "pat@example.com", "555-0100", None),
        ("", "", "", None),
    ],
)
def test_messages_follow_the_preferred_channel(channel, email, phone, address):
    patient = Patient(contact_channel=channel, email=email, phone=phone)
    assert patient.message_address() == address


# Allergies -----------------------------------------------------------------------------------


def allergy(patient: Patient, by: User, substance: str = "Penicillin", **kwargs) -> Allergy:
    fields = {"reaction": "anaphylaxis", "severity": "severe"} | kwargs
    return services.record_allergy(patient=patient, substance=substance, by=by, now=NOW, **fields)


def test_an_allergy_is_recorded_and_clears_no_known_allergies(pat, ben):
    services.record_no_known_allergies(patient=pat, by=ben, now=NOW)
    recorded = allergy(pat, ben)
    event = last_event()
    pat.refresh_from_db()
    assert (pat.no_known_allergies_at, recorded.recorded_by, recorded.severity) == (
        None, ben, "severe",
    )  # fmt: skip
    assert (event.action, event.category, event.object_id) == (
        AuditAction.CREATE, DataCategory.PATIENT_RECORD, str(recorded.pk),
    )  # fmt: skip


def test_a_removed_allergy_is_kept_with_who_and_why(pat, ben, ada):
    recorded = allergy(pat, ben)
    services.remove_allergy(allergy=recorded, reason="tolerated amoxicillin", by=ada, now=NOW)
    kept = Allergy.objects.get(pk=recorded.pk)
    assert (kept.removed_by, kept.removed_at, kept.removed_reason) == (
        ada, NOW, "tolerated amoxicillin",
    )  # fmt: skip
    with pytest.raises(ClinicalValueError, match="already removed"):
        services.remove_allergy(allergy=recorded, reason="again", by=ada, now=NOW)


@pytest.mark.parametrize(
    ("substance", "kwargs", "field", "message"),
    [
        (" ", {}, "substance", "name the substance the patient is allergic to"),
        ("Latex", {"severity": "deadly"}, "severity",
         "the severity is one of mild, moderate, severe, unknown"),
        ("penicillin", {}, "substance", "penicillin is already on the allergy list"),
    ],
)  # fmt: skip
def test_an_allergy_is_refused_with_the_reason(pat, ben, substance, kwargs, field, message):
    allergy(pat, ben)
    with pytest.raises(ClinicalValueError) as refused:
        allergy(pat, ben, substance, **kwargs)
    assert (refused.value.field, refused.value.message) == (field, message)
    assert pat.allergies.count() == 1


def test_no_known_allergies_is_refused_while_one_is_listed(pat, ben):
    allergy(pat, ben)
    with pytest.raises(ClinicalValueError, match="the chart lists Penicillin"):
        services.record_no_known_allergies(patient=pat, by=ben, now=NOW)


@pytest.mark.parametrize("persona", ["sam", "alex"])
def test_the_front_desk_records_no_allergy(pat, persona, request):
    with pytest.raises(ClinicalValueError, match="a prescriber or a nurse records allergies"):
        allergy(pat, request.getfixturevalue(persona))


def test_the_page_shows_allergies_to_clinical_roles_only(login, pat, ben, sam):
    allergy(pat, ben, reaction="throat swelling")
    assert "throat swelling" in login(ben).get(f"/patients/{pat.pk}/").content.decode()
    front_desk = login(sam).get(f"/patients/{pat.pk}/")
    assert front_desk.context["page"].allergies is None
    assert "throat swelling" not in front_desk.content.decode()


def test_allergies_are_recorded_and_removed_on_the_page(login, pat, ben):
    client = login(ben)
    client.post(
        f"/patients/{pat.pk}/allergies/",
        {"substance": "Latex", "reaction": "rash", "severity": "mild"},
    )
    (recorded,) = pat.allergies.all()
    client.post(f"/allergies/{recorded.pk}/remove/", {"reason": "recorded in error"})
    client.post(f"/patients/{pat.pk}/allergies/none/")
    pat.refresh_from_db()
    assert Allergy.objects.get(pk=recorded.pk).removed_reason == "recorded in error"
    assert pat.no_known_allergies_by == ben


# Consent -------------------------------------------------------------------------------------


@pytest.fixture
def course(pat, ada):
    return services.enrol_patient(
        patient=pat, protocol_key="depression-induction", protocol_version=1, by=ada, now=NOW
    )


@pytest.mark.parametrize(
    "signed_on", [dt.date(2019, 3, 1), dt.date(2026, 11, 22), dt.date(2026, 11, 28)]
)
def test_a_consent_is_dated_between_registration_and_today(course, ben, signed_on):
    with pytest.raises(ClinicalValueError) as refused:
        services.record_consent(course=course, signed_on=signed_on, document="v3", by=ben, now=NOW)
    assert (refused.value.field, refused.value.message) == (
        "signed_on",
        "the consent is signed between the patient's registration on 2026-11-23 and today, "
        f"2026-11-27; got {signed_on}",
    )
    assert not Consent.objects.exists()


@pytest.mark.parametrize("signed_on", [dt.date(2026, 11, 23), dt.date(2026, 11, 27)])
def test_a_consent_on_either_edge_is_recorded(course, ben, signed_on):
    services.record_consent(course=course, signed_on=signed_on, document="v3", by=ben, now=NOW)
    assert Consent.objects.get().signed_on == signed_on


def test_a_prescriber_corrects_a_consent_and_the_old_version_is_kept(course, ben, ada):
    consent = services.record_consent(
        course=course, signed_on=dt.date(2026, 11, 24), document="v2", by=ben, now=NOW
    )
    revision = services.correct_consent(
        consent=consent, signed_on=dt.date(2026, 11, 25), document="v3",
        reason="the form is dated the 25th", by=ada, now=NOW,
    )  # fmt: skip
    event = last_event()
    consent.refresh_from_db()
    assert (consent.signed_on, consent.document) == (dt.date(2026, 11, 25), "v3")
    assert (revision.signed_on, revision.document, revision.changed_by) == (
        dt.date(2026, 11, 24), "v2", ada,
    )  # fmt: skip
    assert (event.action, event.category, event.object_id) == (
        AuditAction.UPDATE, DataCategory.COURSE, str(consent.pk),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("persona", "signed_on", "reason", "message"),
    [
        ("ben", dt.date(2026, 11, 25), "why", "a prescriber corrects a consent"),
        ("ada", dt.date(2026, 11, 25), " ", "say why the consent is corrected"),
        ("ada", dt.date(2019, 1, 1), "why", "the consent is signed between the patient's "
         "registration on 2026-11-23 and today, 2026-11-27; got 2019-01-01"),
        ("ada", dt.date(2026, 11, 24), "why",
         "nothing to correct: the date and document are the same"),
    ],
)  # fmt: skip
def test_a_consent_correction_is_refused_with_the_reason(
    course, ben, persona, signed_on, reason, message, request
):
    consent = services.record_consent(
        course=course, signed_on=dt.date(2026, 11, 24), document="v2", by=ben, now=NOW
    )
    with pytest.raises(ClinicalValueError) as refused:
        services.correct_consent(
            consent=consent, signed_on=signed_on, document="v2", reason=reason,
            by=request.getfixturevalue(persona), now=NOW,
        )  # fmt: skip
    assert refused.value.message == message
    consent.refresh_from_db()
    assert (consent.signed_on, consent.revisions.count()) == (dt.date(2026, 11, 24), 0)


def test_the_consent_correction_form_shows_the_old_version(login, course, ben, ada):
    consent = services.record_consent(
        course=course, signed_on=dt.date(2026, 11, 24), document="v2", by=ben, now=NOW
    )
    client = login(ada)
    response = client.post(
        f"/consents/{consent.pk}/correct/",
        {"signed_on": "2026-11-25", "document": "v3", "reason": "dated the 25th"},
    )
    page = client.get(f"/patients/{course.patient_id}/").content.decode()
    assert response.status_code == 302
    assert "before: signed 2026-11-24 (v2)" in page


def registration(site: Site, **fields) -> dict[str, object]:
    return {
        "site": site.pk, "given_name": "Jo", "family_name": "Lane", "date_of_birth": "1979-02-03",
        "sex": "female", "phone": "555-0142", "email": "", "primary_condition": "depression",
        "weight_kg": "61.5", "escort_name": "Sam Lane", "escort_phone": "555-0143",
        "contact_channel": "sms",
    } | fields  # fmt: skip


def test_registration_takes_the_contacts(login, north, sam):
    response = login(sam).post("/patients/new/", registration(north))
    patient = Patient.objects.get()
    assert response.status_code == 302
    assert (patient.escort_name, patient.contact_channel, patient.mrn) == (
        "Sam Lane", "sms", f"S{north.pk}-000001",
    )  # fmt: skip


def test_registration_refuses_a_channel_without_its_address(login, north, sam):
    response = login(sam).post("/patients/new/", registration(north, contact_channel="email"))
    assert response.status_code == 400
    assert response.context["form"].errors["contact_channel"] == [
        "The preferred contact is e-mail: record the patient's email first"
    ]
    assert not Patient.objects.exists()
