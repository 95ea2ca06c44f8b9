"""One patient's progress report (issue 17, item 2): the page and the PDF, for the referring
clinician and for the patient; who may see it; each view and print audited.

Pat (70 kg, 165 cm) starts with a PHQ-9 of 19 and has her six induction infusions from Monday
30 November 2026 (35 mg each, 0.5 mg/kg), with her PHQ-9 before infusions 2–6 at 16, 13, 9, 8
and 7: a response (≥ 50 % below 19, so 9 or less) first before infusion 4. Nausea after
infusion 1. Her review signs the "weekly ×4" taper; booster 1 is due 18 December. The report
is read on Monday 14 December."""

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction
from django.template.loader import render_to_string

from sustain.accounts.enums import AuditAction
from sustain.accounts.models import AuditEvent, User
from sustain.care import charts as care_charts
from sustain.care import services as care
from sustain.care.models import Patient
from sustain.infusion.enums import AdverseEventKind, AdverseEventSeverity
from sustain.reports import progress
from sustain_core import protocols
from tests.sustain import clinic_builders as build
from tests.sustain.conftest import TODAY, make_site, make_user
from tests.sustain.second_factor import signed_in
from tests.sustain.test_documents import text_of

pytestmark = pytest.mark.api

MONDAY = dt.date(2026, 11, 30)
READ_ON = dt.datetime(2026, 12, 14, 15, 0, tzinfo=dt.UTC)  # 10:00 in New York
PRE_PHQ9 = {2: 16, 3: 13, 4: 9, 5: 8, 6: 7}
NAUSEA = (AdverseEventKind.NAUSEA, AdverseEventSeverity.MILD, "Brief nausea in recovery",
          "Ondansetron 4 mg")  # fmt: skip
# Words only the clinician's version may hold.
CLINICIAN_ONLY = (
    "PHQ-9", "mg/kg", "baseline", "Baseline", "response", "Response", "remission", "Remission",
    "relapse", "Relapse", "induction", "Induction", "adverse", "Adverse", "item 9", "Ondansetron",
    "Brief nausea in recovery", "Nausea or vomiting", "Patient Health Questionnaire",
    "[Phillips2019]", "[McInnes2022]", "trajectory", "GAD-7", "CADSS", "protocol", "Protocol",
)  # fmt: skip


@dataclass(frozen=True)
class Clinic:
    pat: Patient
    users: dict[str, User]  # by name: ada, ben, sam, alex, ivy, nora, carl (another site)


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker) -> Iterator[Clinic]:
    """Built once for the module, in a transaction rolled back after its last test; each test
    runs in a savepoint of it (as tests/sustain/test_role_pages.py)."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield _build_clinic()
        transaction.set_rollback(True)


def _build_clinic() -> Clinic:
    north = make_site("North Clinic", "America/New_York", chairs=2)
    users = {
        name: make_user(name, role, north)
        for name, role in [
            ("ada", "prescriber"), ("ben", "nurse"), ("sam", "scheduler"),
            ("alex", "clinic_admin"), ("ivy", "auditor"), ("nora", None),
        ]
    }  # fmt: skip
    users["carl"] = make_user("carl", "prescriber", make_site("South Clinic", "America/Chicago", 1))
    ada, ben, sam = users["ada"], users["ben"], users["sam"]
    build.stock(north, users["alex"], on=TODAY)
    pat = build.register(
        north, sam, "Pat", "Quinn", on=TODAY, weight_kg=Decimal("70.0"), height_cm=Decimal("165.0")
    )
    course = build.ready_for_series(
        pat, prescriber=ada, nurse=ben, now=build.at(north, TODAY, 10), phq9_total=19,
        gad7_total=12,
    )  # fmt: skip
    series = build.book_series(
        course, sam, first=build.at(north, MONDAY, 8), now=build.at(north, TODAY, 11)
    )
    for visit in series:
        build.give_infusion(
            visit, ben,
            pre_phq9=build.phq9(PRE_PHQ9[visit.number]) if visit.number > 1 else None,
            adverse_event=NAUSEA if visit.number == 1 else None,
        )  # fmt: skip
    course.refresh_from_db()
    assert course.status == "review"
    taper = protocols.PROTOCOLS[build.PROTOCOL].maintenance_options[0]
    care.sign_review(
        course=course, option=taper, summary={}, notes="Doing well; keep the taper", by=ada,
        now=build.at(north, dt.date(2026, 12, 12), 9),
    )  # fmt: skip
    return Clinic(pat=pat, users=users)


def page(clinic: Clinic, name: str, path: str):
    """`path` (its {pat} filled in) fetched by `name`, signed in on READ_ON."""
    with time_machine.travel(READ_ON, tick=False):
        return signed_in(clinic.users[name]).get(path.format(pat=clinic.pat.pk))


def main_of(html: str) -> str:
    """The report itself: the page past the navigation of base.html."""
    return html.split('aria-label="Versions of the report"', 1)[1]


def test_clinician_version_shows_each_part(db, clinic):
    response = page(clinic, "ada", "/outcomes/patients/{pat}/progress/?for=clinician")
    html = response.content.decode()
    assert response.status_code == 200
    report = response.context["p"]
    given = [(r.number, r.record.dose_mg, r.record.mg_per_kg, r.booster) for r in report.infusions]
    assert given == [(n, Decimal(35), Decimal("0.5"), False) for n in range(1, 7)]
    assert "Depression" in html and "(v1)" in html  # the protocol and its version
    assert "Maintenance" in html  # the phase now
    assert "35 mg (0.5 mg/kg)" in html
    assert "PHQ-9: baseline 19, latest 7 (mild); change -63.2 %." in html
    assert "Status: responded." in html
    assert "Response (≥ 50 % below baseline) first on 2026-12-07, 6 days after" in html
    assert "PHQ-9 over time" in html  # the chart, with its bands and infusion lines
    assert html.count('class="infusion"') >= 6
    # The latest PHQ-9's answers item by item (7: 3, 3, 1, then 0), item 9 by its words.
    phq9 = next(m for m in report.measures if m.summary.instrument.code == "phq9")
    assert [(a.label, a.value) for a in phq9.latest_answers][:3] == [
        ("Anhedonia", 3), ("Depressed mood", 3), ("Sleep problems", 1),
    ]  # fmt: skip
    assert len(phq9.latest_answers) == 9
    assert "<td>Thoughts of death or self-harm</td><td>0 (Not at all)</td>" in html
    assert "Latest answers, 2026-12-" in html
    assert "Nausea or vomiting" in html and "Brief nausea in recovery" in html
    assert "Ondansetron 4 mg" in html and "Mild" in html
    assert "Post-induction review signed 2026-12-12" in html
    assert "Notes: Doing well; keep the taper" in html
    boosters = [(b.number, b.due_on) for b, _ in report.boosters]
    assert boosters[0] == (1, dt.date(2026, 12, 18))
    assert "Fri 2026-12-18" in html
    assert "Definitions used" in html and "[McInnes2022]" in html


def test_patient_version_is_in_plain_words(db, clinic):
    response = page(clinic, "ben", "/outcomes/patients/{pat}/progress/?for=patient")
    html = response.content.decode()
    assert response.status_code == 200
    body = main_of(html)
    assert (
        "Your depression score went from 19 to 7; lower is better; that is a drop of 63.2 %."
        in body
    )
    assert "It has fallen by 50 % or more since before your first infusion" in body
    assert "Ketamine infusions for depression: you started on 23 November 2026." in body
    assert "Where you are now: booster infusions to keep the benefit." in body
    assert "35 mg of ketamine" in body
    assert "feeling sick or being sick, mild." in body
    assert "4 booster infusions 7 days apart" in body
    assert "Booster 1: due around Friday 18 December" in body
    assert "Your depression score over time" in body  # the chart's title
    assert "call or text 988" in body  # the site's crisis resources (its default)
    assert "Latest answers" not in body and "Thoughts of death" not in body
    assert [term for term in CLINICIAN_ONLY if term in body] == []


def test_the_pdf_is_a_pdf_of_the_version_asked_for_and_audited_as_an_export(db, clinic):
    pat = clinic.pat
    before = AuditEvent.objects.latest("id").id
    for audience in ("clinician", "patient"):
        response = page(clinic, "ada", f"/outcomes/patients/{{pat}}/progress.pdf?for={audience}")
        assert (response.status_code, response["Content-Type"]) == (200, "application/pdf")
        assert response.content.startswith(b"%PDF-")
        assert response.content.rstrip().endswith(b"%%EOF")
        disposition = response["Content-Disposition"]
        assert disposition == f'inline; filename="progress-{audience}-patient-{pat.pk}.pdf"'
        assert "Quinn" not in disposition and "Pat" not in disposition
    events = AuditEvent.objects.filter(id__gt=before, patient_id=pat.pk).order_by("id")
    assert [(e.action, e.category, e.reason, e.actor_username) for e in events] == [
        (AuditAction.READ, "patient-record", "", "ada"),
        (AuditAction.EXPORT, "patient-record", "progress report PDF: clinician", "ada"),
        (AuditAction.READ, "patient-record", "", "ada"),
        (AuditAction.EXPORT, "patient-record", "progress report PDF: patient", "ada"),
    ]


def test_the_pdfs_charts_carry_their_styles(db, clinic):
    """WeasyPrint draws an inline SVG with its own stylesheet only: each chart of the PDF holds
    one (the page's do not: there it would style the whole document)."""
    with time_machine.travel(READ_ON, tick=False):
        report = progress.progress_for_user(
            clinic.users["ada"], clinic.pat.pk, audience=progress.Audience.CLINICIAN, now=READ_ON
        )
    pat = clinic.pat
    html = render_to_string(
        "reports/progress_pdf.html", {"p": report, "patient": pat, "tz": pat.site.tz}
    )
    charts = re.findall(r"<svg[^>]*>(<style>[^<]*</style>)?", html)
    style = f"<style>{care_charts.TRAJECTORY_STYLE}</style>"
    assert charts == [style] * 3  # PHQ-9, GAD-7, CADSS
    page_html = page(clinic, "ada", "/outcomes/patients/{pat}/progress/").content.decode()
    assert style not in page_html


def test_the_pdfs_text_is_the_reports(db, clinic):
    """The PDF's laid-out text (WeasyPrint's pages, as tests/sustain/test_documents reads
    them): the clinician's holds the doses and the adverse event, the patient's none of the
    clinician's terms."""
    pat = clinic.pat
    with time_machine.travel(READ_ON, tick=False):
        texts = {
            audience: text_of(
                render_to_string(
                    "reports/progress_pdf.html",
                    {
                        "p": progress.progress_for_user(
                            clinic.users["ada"], pat.pk, audience=audience, now=READ_ON
                        ),
                        "patient": pat,
                        "tz": pat.site.tz,
                    },
                )
            )
            for audience in progress.Audience
        }
    clinician, patient = texts["clinician"], texts["patient"]
    assert "35 mg (0.5 mg/kg)" in clinician
    assert "PHQ-9: baseline 19, latest 7 (mild); change -63.2 %." in clinician
    assert "Brief nausea in recovery" in clinician
    assert (
        "Your depression score went from 19 to 7; lower is better; that is a drop of 63.2 %."
        in (patient)
    )
    assert [term for term in CLINICIAN_ONLY if term in patient] == []


def test_each_view_of_the_page_is_an_audited_read(db, clinic):
    before = AuditEvent.objects.latest("id").id
    page(clinic, "ben", "/outcomes/patients/{pat}/progress/?for=patient")
    (read,) = AuditEvent.objects.filter(id__gt=before, patient_id=clinic.pat.pk)
    assert (read.action, read.category, read.outcome, read.actor_username) == (
        AuditAction.READ, "patient-record", "success", "ben",
    )  # fmt: skip


@pytest.mark.parametrize("given", ["", "doctor", "PATIENT", "patient%00"])
@pytest.mark.parametrize("kind", ["progress/", "progress.pdf"])
def test_an_unknown_version_is_a_clear_400(db, clinic, given, kind):
    before = AuditEvent.objects.latest("id").id
    response = page(clinic, "ada", f"/outcomes/patients/{{pat}}/{kind}?for={given}")
    assert response.status_code == 400
    html = response.content.decode()
    assert "No such version of the report" in html
    assert f"/outcomes/patients/{clinic.pat.pk}/progress/?for=patient" in html
    assert not AuditEvent.objects.filter(id__gt=before, patient_id=clinic.pat.pk).exists()


def test_without_for_the_clinicians_version_is_shown(db, clinic):
    response = page(clinic, "ada", "/outcomes/patients/{pat}/progress/")
    assert response.context["p"].audience == "clinician"


@pytest.mark.parametrize("name", ["sam", "alex", "ivy", "nora"])
@pytest.mark.parametrize("kind", ["progress/?for=clinician", "progress.pdf?for=patient"])
def test_roles_that_see_no_scores_are_refused(db, clinic, name, kind):
    """The scheduler, the clinic administrator, the auditor and a user with no role: 403, the
    refusal audited, the patient not read."""
    before = AuditEvent.objects.latest("id").id
    response = page(clinic, name, f"/outcomes/patients/{{pat}}/{kind}")
    assert response.status_code == 403
    events = AuditEvent.objects.filter(id__gt=before, actor_username=name, action="read")
    assert [(e.outcome, e.patient_id) for e in events] == [("denied", None)]


def test_another_sites_prescriber_finds_no_patient(db, clinic):
    response = page(clinic, "carl", "/outcomes/patients/{pat}/progress/?for=clinician")
    assert response.status_code == 404
    denied = AuditEvent.objects.filter(actor_username="carl", outcome="denied").get()
    assert denied.patient_id == clinic.pat.pk


def test_the_patient_page_links_both_versions(db, clinic):
    pk = clinic.pat.pk
    html = page(clinic, "ada", "/patients/{pat}/").content.decode()
    links = set(re.findall(r'href="(/outcomes/patients/[^"]+)"', html))
    assert links == {
        f"/outcomes/patients/{pk}/progress/?for=clinician",
        f"/outcomes/patients/{pk}/progress.pdf?for=clinician",
        f"/outcomes/patients/{pk}/progress/?for=patient",
        f"/outcomes/patients/{pk}/progress.pdf?for=patient",
    }
    assert "/outcomes/" not in page(clinic, "sam", "/patients/{pat}/").content.decode()
