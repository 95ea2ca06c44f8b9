"""The printable consent form and discharge instructions (issue 13, item 8): the site's
details, the protocol's title and version, the preparation text and the sourced instructions,
the patient's name and the visit's date; who may print them; each print of a patient's is an
audited read. pypdf is not a dependency: the text is read from WeasyPrint's laid-out document
(the pages the PDF is written from), and the download is checked to be a PDF."""

import datetime as dt

import pytest
from django.utils import timezone
from weasyprint.formatting_structure import boxes

from sustain.accounts.enums import AuditAction
from sustain.accounts.models import AuditEvent
from sustain.care import rules
from sustain.clinic import documents
from sustain_core import protocols
from tests.sustain import clinic_builders as build
from tests.sustain.conftest import TODAY

pytestmark = pytest.mark.api

PROTOCOL = protocols.PROTOCOLS[build.PROTOCOL]


def text_of(html: str) -> str:
    """Every word the PDF's pages hold, in order, single-spaced."""

    def texts(box):
        if isinstance(box, boxes.TextBox):
            yield box.text
        for child in getattr(box, "children", ()):
            yield from texts(child)

    def lines(box):  # a line's pieces run on; lines are apart
        if isinstance(box, boxes.LineBox):
            yield "".join(texts(box))
        else:
            for child in getattr(box, "children", ()):
                yield from lines(child)

    document = documents.render(html)
    text = ""
    for line in (t.strip() for p in document.pages for t in lines(p._page_box)):
        text += line if text.endswith("-") else " " + line  # a line broken at its hyphen
    return " ".join(text.split())


def assert_pdf(response) -> None:
    assert (response.status_code, response["Content-Type"]) == (200, "application/pdf")
    assert response.content.startswith(b"%PDF-")
    assert response.content.rstrip().endswith(b"%%EOF")


@pytest.fixture
def north_details(north):
    north.address = "12 Elm Street\nAlbany, NY 12207"
    north.phone = "518-555-0142"
    north.save(update_fields=["address", "phone"])
    return north


def site_lines(text: str) -> None:
    for expected in ("North Clinic", "12 Elm Street", "Albany, NY 12207", "518-555-0142"):
        assert expected in text


PREPARATION = (
    "Please do not eat for 6 hours before your visit (clear fluids until 2 hours before), "
    "bring an adult to take you home, and do not drive until the next day."
)
ESCORT = "go home with a responsible adult [Ketalar-label]"
DRIVING = "Do not drive, cycle or operate machinery for at least 8 hours after the infusion"


def test_blank_consent_form_has_the_site_protocol_and_preparation(login, sam, north_details):
    response = login(sam).get("/protocols/depression-induction/v1/consent.pdf")
    assert_pdf(response)
    html = documents.consent_html(
        site=north_details, protocol=PROTOCOL, patient=None, now=timezone.now()
    )
    text = text_of(html)
    site_lines(text)
    assert f"{PROTOCOL.title} · protocol depression-induction, version 1" in text
    assert PREPARATION in text
    assert ESCORT in text and DRIVING in text
    assert "0.5 mg for each kg of body weight, over 40 minutes" in text
    assert 'Record this form as "Consent depression-induction v1"' in text
    assert "Quinn" not in text


def test_the_preparation_text_is_the_sites_own(north_details, alex):
    rules.change_rules(
        site=north_details, by=alex, now=timezone.now(), reason="Our anaesthetist's advice",
        based_on=0,
        changes={"visit_preparation": "Nothing to eat for 8 hours; an adult takes you home."},
    )  # fmt: skip
    html = documents.consent_html(
        site=north_details, protocol=PROTOCOL, patient=None, now=timezone.now()
    )
    text = text_of(html)
    assert "Nothing to eat for 8 hours; an adult takes you home." in text
    assert PREPARATION not in text


def test_patient_consent_form_names_the_patient_and_audits_the_read(
    login, ada, sam, pat, north_details
):
    build.enrol(pat, ada, now=build.at(north_details, TODAY, 10))
    client = login(sam)
    before = AuditEvent.objects.latest("id").id
    assert_pdf(client.get(f"/patients/{pat.pk}/consent.pdf"))
    (read,) = AuditEvent.objects.filter(id__gt=before)
    assert (read.action, read.category, read.patient_id, read.actor_username) == (
        AuditAction.READ, "patient-record", pat.pk, "sam",
    )  # fmt: skip
    html = documents.consent_html(
        site=north_details, protocol=PROTOCOL, patient=pat, now=timezone.now()
    )
    assert "Patient: Pat Quinn, born 1980-05-17" in text_of(html)


def test_consent_form_of_a_patient_not_enrolled_is_refused_on_the_patient_page(login, sam, pat):
    client = login(sam)
    response = client.get(f"/patients/{pat.pk}/consent.pdf")
    assert (response.status_code, response["Location"]) == (302, f"/patients/{pat.pk}/")
    page = client.get(response["Location"]).content.decode()
    assert "enrol the patient first: the consent form is the protocol&#x27;s" in page


@pytest.fixture
def visits(north_details, ada, ben, sam, pat):
    course = build.ready_for_series(
        pat, prescriber=ada, nurse=ben, now=build.at(north_details, TODAY, 10), phq9_total=14,
        gad7_total=11,
    )  # fmt: skip
    return build.book_series(
        course, sam, first=build.at(north_details, dt.date(2026, 11, 30), 8),
        now=build.at(north_details, TODAY, 11),
    )  # fmt: skip


def test_discharge_instructions_name_the_patient_visit_and_next_visit(
    login, ben, pat, north_details, visits
):
    first, second = visits[0], visits[1]
    client = login(ben)
    before = AuditEvent.objects.latest("id").id
    assert_pdf(client.get(f"/visits/{first.pk}/discharge.pdf"))
    (read,) = AuditEvent.objects.filter(id__gt=before)
    assert (read.action, read.patient_id) == (AuditAction.READ, pat.pk)
    html = documents.discharge_html(
        visit=first, protocol=PROTOCOL, next_visit=second, now=timezone.now()
    )
    text = text_of(html)
    site_lines(text)
    assert "Pat Quinn · infusion 1 on Monday 30 November 2026" in text
    second_at = second.starts_at.astimezone(north_details.tz)
    assert f"Infusion 2 on {second_at:%A %-d %B %Y} at {second_at:%H:%M}" in text
    assert ESCORT in text and DRIVING in text and PREPARATION in text
    assert "Call the clinic on 518-555-0142." in text
    assert north_details.crisis_resources in text
    assert f"{PROTOCOL.title} · protocol depression-induction, version 1" in text


@pytest.mark.parametrize(("user", "status"), [("sam", 403), ("alex", 403), ("carl", 404)])
def test_discharge_instructions_only_for_the_chair_side_of_the_site(
    request, login, visits, user, status
):
    response = login(request.getfixturevalue(user)).get(f"/visits/{visits[0].pk}/discharge.pdf")
    assert response.status_code == status


def test_another_sites_patient_consent_is_not_found(login, carl, pat):
    assert login(carl).get(f"/patients/{pat.pk}/consent.pdf").status_code == 404


def test_blank_consent_of_an_unknown_protocol_is_not_found(login, sam):
    assert login(sam).get("/protocols/no-such/v1/consent.pdf").status_code == 404
