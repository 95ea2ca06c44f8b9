"""Every staff page for every role (issue 9, item 2): access is in the query, not the template.

One clinic in mid-course, with data distinctive enough that each marker below can only come
from the record it names. For each (role, page): the status the role matrix gives and, for a
page shown, the markers it must contain; every other marker must be absent. Only a prescriber
and a nurse see scores, item answers, alert details, medications and doses; a scheduler and a clinic
administrator see none of them anywhere, and an auditor sees no patient page at all. What a
role may not see is not loaded either: its parts of the patient page are None and no query of
the request reads those tables.
"""

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone

from sustain.accounts.enums import Channel
from sustain.accounts.models import Site, User
from sustain.care import services as care
from sustain.care.enums import Timepoint
from sustain.care.models import Patient
from sustain.infusion.enums import AdverseEventKind, AdverseEventSeverity
from sustain.interop import clients
from sustain.ledger import services as ledger
from sustain.ledger.models import Container
from sustain.portal import services as portal
from sustain.scheduling import staff
from sustain.scheduling.enums import StaffRole
from sustain.scheduling.models import Appointment
from tests.sustain import clinic_builders as build
from tests.sustain.conftest import make_site, make_user

pytestmark = pytest.mark.api

NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)  # Tuesday 10:00 in New York
SERIES_DAY = dt.date(2026, 11, 30)  # Pat's infusion 1, Monday


@dataclass(frozen=True)
class Clinic:
    pat: Patient  # infusion 1 given, an open suicide-item alert, a CADSS, an adverse event
    rae: Patient  # induction finished: awaiting the post-induction review
    wes: Patient  # enrolled, waiting for a series
    visit: Appointment  # Pat's infusion 1
    container: Container  # the vial Pat's dose was drawn from
    users: dict[str, User]  # by role
    carl: User  # a prescriber at another site


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker) -> Iterator[Clinic]:
    """Built once for the module, in a transaction rolled back after its last test; each test
    runs in a savepoint of it (pytest-django's db), so what one request writes, no other sees."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield _build_clinic()
        transaction.set_rollback(True)


PRE_PHQ9 = {2: 18, 3: 16, 4: 14, 5: 12, 6: 9}  # Rae's PHQ-9 before infusions 2–6


def _build_clinic() -> Clinic:
    day = dt.date
    north = make_site("North Clinic", "America/New_York", chairs=2)
    users = {
        role: make_user(name, None if role == "no role" else role, north)
        for role, name in [
            ("prescriber", "ada"), ("nurse", "ben"), ("scheduler", "sam"),
            ("clinic_admin", "alex"), ("auditor", "ivy"), ("no role", "nora"),
        ]
    }  # fmt: skip
    ada, ben, sam = users["prescriber"], users["nurse"], users["scheduler"]
    build.stock(north, users["clinic_admin"], on=day(2026, 11, 2))
    # Rae: 6 infusions from 9 November, PHQ-9 20 → 9 (before each infusion from the
    # second), 64 kg (32 mg a session).
    rae = build.register(north, sam, "Rae", "Review", on=day(2026, 11, 2))
    course = build.ready_for_series(
        rae, prescriber=ada, nurse=ben, now=build.at(north, day(2026, 11, 2), 10),
        phq9_total=20, gad7_total=12,
    )  # fmt: skip
    series = build.book_series(
        course, sam, first=build.at(north, day(2026, 11, 9), 8),
        now=build.at(north, day(2026, 11, 2), 11),
    )  # fmt: skip
    for visit in series:
        pre_phq9 = build.phq9(PRE_PHQ9[visit.number]) if visit.number > 1 else None
        build.give_infusion(visit, ben, pre_phq9=pre_phq9)
    # Pat: 70 kg, baseline PHQ-9 14, then 17 with item 9 positive before infusion 1 (35 mg).
    pat = build.register(
        north, sam, "Pat", "Quinn", on=day(2026, 11, 23), weight_kg=Decimal("70.0")
    )
    course = build.ready_for_series(
        pat, prescriber=ada, nurse=ben, now=build.at(north, day(2026, 11, 23), 10),
        phq9_total=14, gad7_total=11,
    )  # fmt: skip
    series = build.book_series(
        course, sam, first=build.at(north, SERIES_DAY, 8),
        now=build.at(north, day(2026, 11, 23), 11),
    )  # fmt: skip
    first = series[0]
    cadss = {str(n): 0 for n in range(1, 24)} | {"1": 3, "2": 3, "3": 2}  # CADSS-6: 6
    build.give_infusion(
        first, ben, pre_phq9=build.phq9(17, item9=1), prescriber=ada, cadss_answers=cadss,
        adverse_event=(
            AdverseEventKind.NAUSEA, AdverseEventSeverity.MILD, "Brief nausea in recovery",
            "Ondansetron 4 mg",
        ),
    )  # fmt: skip
    care.add_medication(
        patient=pat, name="Lorazepam", dose="0.5 mg at bedtime", started_on=None, by=ben,
        now=build.at(north, day(2026, 12, 1), 8),
    )  # fmt: skip
    care.record_allergy(
        patient=pat, substance="Sulfonamides", reaction="Hives on both arms", severity="moderate",
        by=ben, now=build.at(north, day(2026, 12, 1), 8),
    )  # fmt: skip
    portal.invite_patient(
        patient=pat, instrument_codes=["phq9", "gad7"], channel=Channel.EMAIL,
        timepoint=Timepoint.PRE_INFUSION, by=ben, now=build.at(north, day(2026, 12, 1), 9),
    )  # fmt: skip
    for person, role in ((ben, StaffRole.NURSE), (ada, StaffRole.PRESCRIBER)):
        staff.add_shifts(
            site=north,
            request=staff.ShiftRequest(
                staff=person, role=role, day=SERIES_DAY, starts=dt.time(8), ends=dt.time(16)
            ),
            by=users["clinic_admin"],
        )
    wes = build.register(north, sam, "Wes", "Waiting", on=day(2026, 11, 25))
    build.enrol(wes, ada, now=build.at(north, day(2026, 11, 25), 10))
    south = make_site("South Clinic", "America/Chicago", chairs=1)
    carl = make_user("carl", "prescriber", south)
    vial = _ledger(north, first, users)
    # A system reading the FHIR API (its page shows the revoke form the fuzzer posts).
    clients.create_client(
        name="registry", site=north, role="prescriber", scopes=["system/*.read"],
        by=users["clinic_admin"], now=timezone.now(),
    )  # fmt: skip
    return Clinic(pat=pat, rae=rae, wes=wes, visit=first, container=vial, users=users, carl=carl)


def _ledger(north: Site, visit: Appointment, users: dict[str, User]) -> Container:
    """A vial received on Friday 27 November (North is registered with its first stock); Pat's
    35 mg drawn from it on the day of her infusion 1 (Ben) and 5 mg wasted before Dr Ada."""
    (vial,) = build.stock(north, users["clinic_admin"], on=dt.date(2026, 11, 27), containers=1)
    at = build.at(north, SERIES_DAY, 8, 30)
    ledger.draw_for_visit(
        container=vial, appointment=visit, dose_mg=Decimal("35"), by=users["nurse"], now=at
    )
    ledger.waste_for_visit(
        appointment=visit,
        container=vial,
        quantity_mg=Decimal("5"),
        witness=users["prescriber"],
        witness_password="not-used-in-tests",
        by=users["nurse"],
        now=at,
    )
    return vial


# What only a prescriber and a nurse may see, as it shows on each page.
SCORES = ("PHQ-9 over time", "latest 17", "moderately severe")  # Pat's chart, line, severity
REVIEW_SCORES = ("baseline 20, latest 9",)  # Rae's PHQ-9 on her review
ITEM_ANSWERS = ("cadss6 6",)  # Pat's CADSS-6: the sum of CADSS items 1, 2, 6, 7, 15 and 22
ALERT = ("Suicide item positive", "PHQ-9 (17)")  # kind and score, on the patient page
ALERT_LISTED = ("Suicide item positive", "(PHQ-9 17)")  # the same on the alert list
ALERT_COUNT = ("1 open</span>",)  # the patient list's badge
DOSE_GIVEN = ("35 mg at 150.0 mL/h", "mL/h")  # Pat's infusion 1 (any pump rate: "mL/h")
DOSES = (*DOSE_GIVEN, "Next dose", "mg/kg cumulative")
REVIEW_DOSES = ("32 mg (0.5 mg/kg) at 150.0 mL/h", "mL/h")
ADVERSE_EVENT = ("Brief nausea in recovery",)
MEDICATION = ("0.5 mg at bedtime",)  # Pat's lorazepam: only the chair-side roles see it
ALLERGY = ("Hives on both arms",)  # Pat's allergy: clinical, never shown to the front desk
MARKERS = frozenset(
    SCORES + REVIEW_SCORES + ITEM_ANSWERS + ALERT + ALERT_LISTED + ALERT_COUNT + DOSES
    + REVIEW_DOSES + ADVERSE_EVENT + MEDICATION + ALLERGY
)  # fmt: skip
CLINICAL = frozenset({"prescriber", "nurse"})  # the roles that see them
# Pat's record as FHIR: a score's severity, the lorazepam, the pump rate, the adverse event.
FHIR_RECORD = ("moderately severe", *MEDICATION, "mL/h", *ADVERSE_EVENT)


@dataclass(frozen=True)
class Page:
    name: str  # the URL pattern's namespace:name
    path: str  # {pat}, {rae}, {wes}, {visit} and {site} are filled in from the clinic
    shows: tuple[str, ...] = ()  # the markers the clinical roles must find

    def url(self, clinic: Clinic) -> str:
        return self.path.format(
            pat=clinic.pat.pk, rae=clinic.rae.pk, wes=clinic.wes.pk, visit=clinic.visit.pk,
            site=clinic.visit.site_id, container=clinic.container.pk,
            ada=clinic.users["prescriber"].pk,
        )  # fmt: skip


NO_JOB = "00000000-0000-4000-8000-000000000000"  # no FHIR export job has this id
PAGES = {
    "patient list": Page("care:patient_list", "/", ALERT_COUNT),
    "register a patient": Page("care:patient_create", "/patients/new/"),
    "patient page": Page(
        "clinic:patient_detail",
        "/patients/{pat}/",
        SCORES + ITEM_ANSWERS + ALERT + DOSES + MEDICATION + ALLERGY,
    ),
    "correct a patient's details": Page("care:patient_edit", "/patients/{pat}/details/"),
    "alert list": Page("care:alert_list", "/alerts/", ALERT_LISTED),
    "alert list CSV": Page("care:alert_export", "/alerts/export.csv", ALERT_LISTED[:1]),
    "day board": Page("scheduling:day", "/schedule/?day=2026-11-30"),
    "day board fragment": Page("scheduling:day", "/schedule/?day=2026-11-30&fragment=1"),
    "week view": Page("scheduling:week", "/schedule/week/?day=2026-11-30"),
    "visits CSV": Page("scheduling:visits_export", "/schedule/visits.csv?day=2026-11-30&week=1"),
    "waitlist": Page("scheduling:waitlist", "/schedule/waitlist/"),
    "staff": Page("scheduling:staff", "/schedule/staff/?week=2026-11-30"),
    "hours and closures": Page("scheduling:site_calendar", "/schedule/calendar/"),
    "site details": Page("scheduling:site_details", "/schedule/site/"),
    "system clients": Page("fhir_clients:list", "/fhir-clients/"),
    "staff accounts": Page("accounts:staff", "/accounts/staff/"),
    "staff account": Page("accounts:staff_account", "/accounts/staff/{ada}/"),
    "deactivate an account": Page("accounts:staff_deactivate", "/accounts/staff/{ada}/deactivate/"),
    "series preview": Page("scheduling:series", "/patients/{wes}/series/?first_day=2026-12-07"),
    "infusion record": Page(
        "infusion:chairside", "/visits/{visit}/infusion/", DOSE_GIVEN + ADVERSE_EVENT + ALLERGY
    ),
    "infusion record PDF": Page("infusion:record_pdf", "/visits/{visit}/infusion/record.pdf"),
    "discharge PDF": Page("clinic:discharge_pdf", "/visits/{visit}/discharge.pdf"),
    "consent PDF": Page("clinic:consent_pdf", "/patients/{pat}/consent.pdf"),
    "blank consent PDF": Page(
        "clinic:blank_consent_pdf", "/protocols/depression-induction/v1/consent.pdf"
    ),
    "visit .ics": Page("scheduling:visit_ics", "/visits/{visit}/visit.ics"),
    "cancel a visit": Page("scheduling:visit_cancel", "/visits/{visit}/cancel/"),
    # Pat's visit 1 is not cancelled: no re-book page, for who may book.
    "re-book a visit": Page("scheduling:visit_rebook", "/visits/{visit}/rebook/"),
    "assessment entry": Page("clinic:assessment_create", "/patients/{pat}/assessments/new/"),
    "review": Page("clinic:review", "/patients/{rae}/review/", REVIEW_SCORES + REVIEW_DOSES),
    "patient calendar": Page("scheduling:patient_calendar", "/patients/{pat}/calendar/"),
    "clinic rules": Page("care:clinic_rules", "/clinic-rules/"),
    # The relapse forecast (issue 17, item 3): the clinical roles; no fit in this clinic.
    "relapse forecast": Page("reports:forecast", "/outcomes/forecast/"),
    "protocol list": Page("care:protocol_list", "/protocols/"),
    "protocol detail": Page("care:protocol_detail", "/protocols/depression-induction/v1/"),
    "protocol new version": Page(
        "care:protocol_edit", "/protocols/depression-induction/v1/new-version/"
    ),
    "audit log": Page("accounts:audit_log", "/accounts/audit/"),
    "audit log CSV": Page("accounts:audit_export", "/accounts/audit/export.csv"),
    "audit log FHIR": Page("accounts:audit_export_fhir", "/accounts/audit/export.fhir.json"),
    "ledger safe": Page("ledger:safe", "/ledger/"),
    "ledger container": Page("ledger:container", "/ledger/containers/{container}/"),
    "ledger stock": Page("ledger:stock", "/ledger/stock/"),
    "ledger setup": Page("ledger:setup", "/ledger/setup/"),
    "outbox": Page("accounts:outbox", "/accounts/outbox/"),
    "messages not sent": Page("accounts:dead_letters", "/accounts/outbox/dead/"),
    "dispensing record": Page(
        "ledger:report", "/ledger/report/?site={site}&start=2026-11-01&end=2026-11-30"
    ),
    "dispensing record CSV": Page(
        "ledger:report_csv", "/ledger/report.csv?site={site}&start=2026-11-01&end=2026-11-30"
    ),
    "dispensing record PDF": Page(
        "ledger:report_pdf", "/ledger/report.pdf?site={site}&start=2026-11-01&end=2026-11-30"
    ),
    "OpenAPI document": Page("api:openapi-json", "/api/v1/openapi.json"),
    "API root": Page("api:api-root", "/api/v1/"),
    "infusion record API": Page(  # the dose's preparation in words: "... at 150.0 mL/h"
        "api:chairside_record",
        "/api/v1/visits/{visit}/infusion",
        (*ADVERSE_EVENT, *MEDICATION, "mL/h"),
    ),
    "ledger balance API": Page("api:ledger_balance", "/api/v1/ledger/balance?site={site}"),
    # No stock in this clinic: a container is not found by whoever may read the ledger.
    "ledger container API": Page("api:ledger_container", "/api/v1/ledger/containers/999999"),
    # The ledger's count pages (issue 12, item 4); the clinic holds no stock, so an object's
    # page is a 404 for the roles that may read the ledger.
    "end of day": Page("ledger:end_of_day", "/ledger/end-of-day/"),
    "count form": Page("ledger:count_new", "/ledger/counts/new/"),
    "count result": Page("ledger:count_detail", "/ledger/counts/1/"),
    "discrepancies": Page("ledger:discrepancies", "/ledger/discrepancies/"),
    "resolve a discrepancy": Page("ledger:discrepancy_resolve", "/ledger/discrepancies/1/resolve/"),
    "theft and loss": Page("ledger:theft_loss_list", "/ledger/theft-loss/"),
    "report theft or loss": Page("ledger:theft_loss_new", "/ledger/theft-loss/new/"),
    "theft or loss report": Page("ledger:theft_loss_detail", "/ledger/theft-loss/1/"),
    "inventories": Page("ledger:inventories", "/ledger/inventories/"),
    "record an inventory": Page("ledger:inventory_new", "/ledger/inventories/new/"),
    "count sheet API": Page("api:count_sheet", "/api/v1/ledger/locations/999999/count-sheet"),
    "discrepancies API": Page("api:discrepancies", "/api/v1/ledger/discrepancies"),
    # The FHIR R4 API (sustain.interop.fhir.views): a session past the second factor, the pages'
    # roles and sites; the statement of what it serves needs no sign-in.
    "FHIR metadata": Page("interop:fhir_metadata", "/fhir/R4/metadata"),
    "FHIR Patient search": Page("interop:fhir_search", "/fhir/R4/Patient"),
    "FHIR Patient read": Page("interop:fhir_read", "/fhir/R4/Patient/patient-{pat}"),
    "FHIR $everything": Page(
        "interop:fhir_everything", "/fhir/R4/Patient/patient-{pat}/$everything", FHIR_RECORD
    ),
    "emergency access": Page("care:emergency_access", "/emergency-access/"),
    "emergency reviews": Page("care:emergency_reviews", "/emergency-access/reviews/"),
    # The patient's copy of their record (issue 16, item 5): what the role may read of it. The
    # PDF's text is compressed (no marker is found in it either way).
    "patient record PDF": Page("clinic:record_pdf", "/patients/{pat}/record.pdf"),
    "patient record FHIR": Page(
        "clinic:record_fhir", "/patients/{pat}/record.fhir.json", FHIR_RECORD
    ),
    # A patient's progress report (issue 17, item 2): scores, doses and adverse events for the
    # clinician; the patient's version in plain words holds none of the other markers.
    # The PDF's text is compressed (no marker is found in it either way).
    "progress report": Page(
        "reports:progress",
        "/outcomes/patients/{pat}/progress/?for=clinician",
        (*SCORES, *ADVERSE_EVENT),
    ),
    "progress report for the patient": Page(  # its chart's severity bands, in plain words
        "reports:progress", "/outcomes/patients/{pat}/progress/?for=patient", ("moderately severe",)
    ),
    "progress report PDF": Page(
        "reports:progress_pdf", "/outcomes/patients/{pat}/progress.pdf?for=clinician"
    ),
    # FHIR bulk export (issue 16, item 4): a kick-off without `Prefer: respond-async` is a 400
    # for every staff role; no export job with this id: a 404; no role: 401.
    "FHIR bulk export": Page("interop:export", "/fhir/R4/$export"),
    "FHIR Group export": Page("interop:group_export", "/fhir/R4/Group/site-{site}/$export"),
    "FHIR export status": Page("interop:export_status", f"/fhir/R4/$export-status/{NO_JOB}"),
    "FHIR export file": Page("interop:export_file", f"/fhir/R4/$export-file/{NO_JOB}/x.ndjson"),
    # The cohort outcomes (issue 17, item 1): aggregates only, no marker is on them.
    "cohort outcomes": Page(
        "reports:outcomes", "/outcomes/?site={site}&start=2026-11-01&end=2026-11-30"
    ),
    "cohort outcomes CSV": Page(
        "reports:outcomes_csv", "/outcomes/outcomes.csv?site={site}&start=2026-11-01&end=2026-11-30"
    ),
    "cohort outcomes PDF": Page(
        "reports:outcomes_pdf", "/outcomes/outcomes.pdf?site={site}&start=2026-11-01&end=2026-11-30"
    ),
}
OK, NO, NF = 200, 403, 404  # shown, refused (the role matrix), not found
TO = 302  # sent to the role's own landing page (sustain.accounts.landing)
NA = 401  # the API: not signed in as staff with a role
BAD = 400  # the API: a request it cannot take
ROLES = ("prescriber", "nurse", "scheduler", "clinic_admin", "auditor", "no role")
# fmt: off
STATUS = {  #            prescriber nurse scheduler clinic_admin auditor no role
    "patient list":         (OK,    OK,   OK,       OK,          TO,     NO),
    "register a patient":   (OK,    NO,   OK,       OK,          NO,     NO),
    "patient page":         (OK,    OK,   OK,       OK,          NO,     NO),
    "correct a patient's details": (OK, NO, OK,     OK,          NO,     NO),
    "alert list":           (OK,    OK,   NO,       NO,          NO,     NO),
    "alert list CSV":       (OK,    OK,   NO,       NO,          NO,     NO),
    "day board":            (OK,    OK,   OK,       OK,          NO,     NO),
    "day board fragment":   (OK,    OK,   OK,       OK,          NO,     NO),
    "week view":            (OK,    OK,   OK,       OK,          NO,     NO),
    "visits CSV":           (OK,    OK,   OK,       OK,          NO,     NO),
    "waitlist":             (OK,    NO,   OK,       OK,          NO,     NO),
    "staff":                (OK,    OK,   OK,       OK,          NO,     NO),
    "hours and closures":   (OK,    OK,   OK,       OK,          NO,     NO),
    "site details":         (NO,    NO,   NO,       OK,          NO,     NO),
    "system clients":       (NO,    NO,   NO,       OK,          NO,     NO),
    "staff accounts":       (NO,    NO,   NO,       OK,          NO,     NO),
    "staff account":        (NO,    NO,   NO,       OK,          NO,     NO),
    "deactivate an account": (NO,   NO,   NO,       OK,          NO,     NO),
    "series preview":       (OK,    NO,   OK,       OK,          NO,     NO),
    "infusion record":      (OK,    OK,   NO,       NO,          NO,     NO),
    "infusion record PDF":  (OK,    OK,   NO,       NO,          NO,     NO),
    "discharge PDF":        (OK,    OK,   NO,       NO,          NO,     NO),
    "consent PDF":          (OK,    OK,   OK,       OK,          NO,     NO),
    "blank consent PDF":    (OK,    OK,   OK,       OK,          OK,     NO),
    "visit .ics":           (OK,    OK,   OK,       OK,          NO,     NO),
    "cancel a visit":       (OK,    OK,   OK,       NO,          NO,     NO),
    "re-book a visit":      (NF,    NO,   NF,       NF,          NO,     NO),
    "assessment entry":     (OK,    OK,   NO,       NO,          NO,     NO),
    "review":               (OK,    NO,   NO,       NO,          NO,     NO),
    "patient calendar":     (OK,    OK,   OK,       NO,          NO,     NO),
    "clinic rules":         (OK,    OK,   OK,       OK,          OK,     NO),
    "relapse forecast":     (OK,    OK,   NO,       NO,          NO,     NO),
    "protocol list":        (OK,    OK,   OK,       OK,          OK,     NO),
    "protocol detail":      (OK,    OK,   OK,       OK,          OK,     NO),
    "protocol new version": (OK,    NO,   NO,       OK,          NO,     NO),
    "audit log":            (NO,    NO,   NO,       OK,          OK,     NO),
    "audit log CSV":        (NO,    NO,   NO,       OK,          OK,     NO),
    "audit log FHIR":       (NO,    NO,   NO,       OK,          OK,     NO),
    "ledger safe":          (OK,    OK,   NO,       OK,          OK,     NO),
    "ledger container":     (OK,    OK,   NO,       OK,          OK,     NO),
    "ledger stock":         (OK,    OK,   NO,       OK,          OK,     NO),
    "ledger setup":         (OK,    OK,   NO,       OK,          OK,     NO),
    "outbox":               (NO,    NO,   NO,       OK,          NO,     NO),
    "messages not sent":    (NO,    NO,   NO,       OK,          NO,     NO),
    "dispensing record":    (NO,    NO,   NO,       OK,          OK,     NO),
    "dispensing record CSV": (NO,   NO,   NO,       OK,          OK,     NO),
    "dispensing record PDF": (NO,   NO,   NO,       OK,          OK,     NO),
    "OpenAPI document":     (OK,    OK,   OK,       OK,          OK,     NF),
    "API root":             (NF,    NF,   NF,       NF,          NF,     NF),
    "infusion record API":  (OK,    OK,   NO,       NO,          NO,     NA),
    "ledger balance API":   (OK,    OK,   NO,       OK,          OK,     NA),
    "ledger container API": (NF,    NF,   NO,       NF,          NF,     NA),
    "end of day":           (OK,    OK,   NO,       OK,          OK,     NO),
    "count form":           (OK,    OK,   NO,       NO,          NO,     NO),
    "count result":         (NF,    NF,   NO,       NF,          NF,     NO),
    "discrepancies":        (OK,    OK,   NO,       OK,          OK,     NO),
    "resolve a discrepancy": (NO,   NO,   NO,       NF,          NO,     NO),
    "theft and loss":       (OK,    OK,   NO,       OK,          OK,     NO),
    "report theft or loss": (NO,    NO,   NO,       OK,          NO,     NO),
    "theft or loss report": (NF,    NF,   NO,       NF,          NF,     NO),
    "inventories":          (OK,    OK,   NO,       OK,          OK,     NO),
    "record an inventory":  (NO,    NO,   NO,       OK,          NO,     NO),
    "count sheet API":      (NF,    NF,   NO,       NF,          NF,     NA),
    "discrepancies API":    (OK,    OK,   NO,       OK,          OK,     NA),
    "FHIR metadata":        (OK,    OK,   OK,       OK,          OK,     OK),
    "FHIR Patient search":  (OK,    OK,   OK,       OK,          NO,     NA),
    "FHIR Patient read":    (OK,    OK,   OK,       OK,          NO,     NA),
    "FHIR $everything":     (OK,    OK,   OK,       OK,          NO,     NA),
    "emergency access":     (OK,    OK,   NO,       NO,          NO,     NO),
    "emergency reviews":    (NO,    NO,   NO,       OK,          OK,     NO),
    "patient record PDF":   (OK,    OK,   OK,       OK,          NO,     NO),
    "patient record FHIR":  (OK,    OK,   OK,       OK,          NO,     NO),
    "progress report":      (OK,    OK,   NO,       NO,          NO,     NO),
    "progress report for the patient": (OK, OK, NO,     NO,          NO,     NO),
    "progress report PDF":  (OK,    OK,   NO,       NO,          NO,     NO),
    "FHIR bulk export":     (BAD,   BAD,  BAD,      BAD,         BAD,    NA),
    "FHIR Group export":    (BAD,   BAD,  BAD,      BAD,         BAD,    NA),
    "FHIR export status":   (NF,    NF,   NF,       NF,          NF,     NA),
    "FHIR export file":     (NF,    NF,   NF,       NF,          NF,     NA),
    "cohort outcomes":      (OK,    OK,   NO,       OK,          NO,     NO),
    "cohort outcomes CSV":  (OK,    OK,   NO,       OK,          NO,     NO),
    "cohort outcomes PDF":  (OK,    OK,   NO,       OK,          NO,     NO),
}
# fmt: on
ACTIONS = {  # POST only: a GET is refused (405) for everyone
    "fhir_clients:revoke",
    "care:emergency_end",
    "care:emergency_review_close",
    "accounts:send_again",
    "accounts:logout",
    "accounts:staff_invite",
    "accounts:staff_reactivate",
    "accounts:staff_reset_password",
    "accounts:staff_reset_second_factor",
    "accounts:staff_unlock",
    "accounts:staff_roles",
    "api:book_series",
    "api:chairside_addendum",
    "api:chairside_adverse_event",
    "api:chairside_check_in",
    "api:chairside_checks",
    "api:chairside_cosign",
    "api:chairside_decision",
    "api:chairside_discharge",
    "api:chairside_end",
    "api:chairside_last_dose",
    "api:chairside_event",
    "api:chairside_resume",
    "api:chairside_sign",
    "api:chairside_start",
    "api:chairside_undo",
    "api:chairside_vitals",
    "api:ledger_adjust",
    "api:ledger_draw",
    "api:ledger_receive",
    "api:ledger_transfer",
    "api:ledger_waste",
    "care:address",
    "care:allergy_add",
    "care:allergy_remove",
    "care:consent_correct",
    "care:no_known_allergies",
    "api:chairside_waste",
    "care:alert_acknowledge",
    "care:patient_export",
    "care:clinic_rules_change",
    "care:consent",
    "care:dose_cosign",
    "care:dose_set",
    "care:dose_withdraw",
    "care:enrol",
    "care:medication_add",
    "care:medication_stop",
    "care:height",
    "care:indication",
    "interop:fhir_search_post",
    "care:screen",
    "care:weight",
    "clinic:course_status",
    "clinic:extend",
    "clinic:invite",
    "infusion:adverse_event",
    "infusion:check_in",
    "infusion:titrate",
    "ledger:adjust",
    "ledger:correct",
    "ledger:destroy",
    "ledger:location",
    "ledger:open",
    "ledger:product",
    "ledger:receive",
    "ledger:registration",
    "ledger:return",
    "ledger:supplier",
    "ledger:transfer",
    "ledger:theft_loss_file",
    "api:submit_count",
    "scheduling:calendar_hours",
    "scheduling:chair_capabilities",
    "scheduling:closure_add",
    "scheduling:closure_remove",
    "scheduling:holiday_country",
    "scheduling:holidays_add",
    "scheduling:medical_director",
    "scheduling:patient_calendar_revoke",
    "scheduling:shift_add",
    "scheduling:shift_remove",
    "scheduling:staff_rules",
    "scheduling:booster_book",
    "scheduling:visit_create",
    "scheduling:visit_move",
    "scheduling:visit_no_show",
    "scheduling:visit_keep_time",
}  # fmt: skip
# A GET of a chair-side step (back from signing in again when the session lapsed at the chair)
# goes to the record's page, for who may take the step.
BACK_TO_PAGE = {"infusion:step"}
PATIENTS_PAGES = {  # no staff session: the patient's own pages (test_access, portal tests)
    "accounts:login", "portal:questionnaire", "portal:kiosk", "scheduling:calendar_feed",
    "portal:visit",
    # and a staff member's set-password link (tests/sustain/accounts/test_staff_pages.py)
    "accounts:set_password", "accounts:set_password_done",
}  # fmt: skip
PROVIDER_CALLBACKS = {"accounts:sms_status"}  # the SMS provider's signed reports (test_notify)
MONITORS = {":healthz"}  # the monitor's health check, no sign-in (accounts/test_health.py)
# Other systems' token endpoint: their client credentials are the credential
# (interop/test_clients.py).
SYSTEM_CLIENTS = {":fhir-token"}
# The second factor after the password, for every role (accounts/test_second_factor.py)
SIGN_IN_STEPS = {"accounts:second_factor_enrol", "accounts:second_factor_verify"}


def url_names() -> dict[str, str]:
    """Every URL pattern of the project as {namespace:name: route}."""
    names: dict[str, str] = {}

    def walk(patterns: list, prefix: str, namespace: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern), p.namespace or namespace)
            elif isinstance(p, URLPattern):
                names[f"{namespace}:{p.name}"] = "/" + prefix + str(p.pattern)

    walk(get_resolver().url_patterns, "", "")
    return names


# Any other path under /api/v1/: 404 in the API's error shape for everyone (test_api_errors).
API_CATCH_ALL = {"api:no_route"}
# Any other path under /fhir/R4/: a 404 OperationOutcome for everyone (interop/test_fhir_api).
API_CATCH_ALL |= {"interop:fhir_nothing"}


def test_every_url_pattern_is_in_the_table():
    in_table = {page.name for page in PAGES.values()} | ACTIONS | BACK_TO_PAGE | PATIENTS_PAGES
    in_table |= PROVIDER_CALLBACKS | SIGN_IN_STEPS | API_CATCH_ALL | MONITORS | SYSTEM_CLIENTS
    assert sorted(url_names()) == sorted(in_table)
    assert not ACTIONS & PATIENTS_PAGES
    assert not {page.name for page in PAGES.values()} & (ACTIONS | PATIENTS_PAGES)
    assert list(STATUS) == list(PAGES)


@pytest.mark.parametrize(("role", "status"), [("nurse", 302), ("scheduler", 403)])
def test_a_chairside_step_fetched_goes_back_to_the_record(db, login, clinic, role, status):
    path = f"/visits/{clinic.visit.pk}/infusion/vitals/"
    response = login(clinic.users[role]).get(path)
    assert (response.status_code, response.get("Location")) == (
        status, f"/visits/{clinic.visit.pk}/infusion/" if status == 302 else None
    )  # fmt: skip


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_an_action_is_not_a_page(db, login, clinic, name):
    path = re.sub(r"<[^>]+>", "1", url_names()[name])
    assert login(clinic.users["prescriber"]).get(path).status_code == 405


# Tables read only for scores, item answers, alerts, medications and doses (Django's SQLite
# quoting).
CLINICAL_READS = re.compile(
    r'"care_assessment"\."(total_score|subscales|severity|flags)"'
    r'|"care_assessmentanswer"|"care_alert"|"infusion_infusionrecord"|"infusion_adverseevent"'
    r'|"care_medication"|"care_allergy"|"reports_relapsefit"'
)


# Pages that count clinical data for a role allowed only the counts (issue 17: the cohort
# outcomes, reports.view_outcomes, which the clinic administrator holds): they read scores and
# adverse events to aggregate them; that no marker is shown is still checked.
AGGREGATES = {"cohort outcomes", "cohort outcomes CSV", "cohort outcomes PDF"}


@pytest.mark.parametrize("page", list(PAGES))
@pytest.mark.parametrize("role", ROLES)
def test_role_sees_only_what_it_may(db, login, clinic, role, page):
    expected = PAGES[page]
    with time_machine.travel(NOW, tick=False):
        client = login(clinic.users[role])
        with CaptureQueriesContext(connection) as queries:
            response = client.get(expected.url(clinic))
    status = STATUS[page][ROLES.index(role)]
    assert response.status_code == status
    if status != OK:
        return
    html = response.content.decode(errors="replace")  # the PDF is binary
    must = set(expected.shows) if role in CLINICAL else set()
    assert {m for m in must if m not in html} == set()
    assert {m for m in MARKERS - must if m in html} == set()
    if role not in CLINICAL and page not in AGGREGATES:  # never loaded, not just not shown
        assert [q["sql"] for q in queries if CLINICAL_READS.search(q["sql"])] == []


def test_the_clinical_reads_pattern_matches_a_clinical_page(db, login, clinic):
    with time_machine.travel(NOW, tick=False):
        client = login(clinic.users["nurse"])
        with CaptureQueriesContext(connection) as queries:
            client.get(PAGES["patient page"].url(clinic))
    read = {m.group(0) for q in queries for m in CLINICAL_READS.finditer(q["sql"])}
    assert {
        '"care_assessment"."total_score"', '"care_alert"', '"infusion_infusionrecord"',
        '"care_medication"', '"care_allergy"',
    } <= read  # fmt: skip


@pytest.mark.parametrize("role", ["prescriber", "nurse", "scheduler", "clinic_admin"])
def test_patient_page_loads_only_the_roles_parts(db, login, clinic, role):
    with time_machine.travel(NOW, tick=False):
        page = login(clinic.users[role]).get(f"/patients/{clinic.pat.pk}/").context["page"]
    parts = {
        "measures": page.measures,
        "alerts": page.alerts,
        "doses": page.doses,
        "boosters": page.boosters,
        "details": page.details,
        "medications": page.medications,
        "allergies": page.allergies,
    }
    if role in CLINICAL:
        assert [name for name, part in parts.items() if part is None] == []
        assert [m.latest.total_score for m in page.measures] == [17, 11, 8]  # PHQ-9, GAD-7, CADSS
        assert [a.get_kind_display() for a in page.alerts] == ["Suicide item positive"]
        assert [r.dose_mg for r in page.doses.given.values()] == [35]
        assert [(m.name, m.rxcui) for m, _ in page.medications.interacting] == [("lorazepam", "")]
        assert [a.substance for a in page.allergies.current] == ["Sulfonamides"]
    else:
        assert parts == dict.fromkeys(parts)


def test_another_sites_prescriber_sees_nothing_of_the_clinic(db, login, clinic):
    with time_machine.travel(NOW, tick=False):
        client = login(clinic.carl)
        responses = {name: client.get(page.url(clinic)) for name, page in PAGES.items()}
    shown = {
        name: {
            m
            for m in MARKERS | {"Quinn, Pat", "Review, Rae", "Waiting, Wes"}
            if m in r.content.decode(errors="replace")  # a PDF is binary
        }
        for name, r in responses.items()
    }
    assert {name: found for name, found in shown.items() if found} == {}
    assert responses["patient page"].status_code == NF
    assert list(responses["patient list"].context["patients"]) == []
    assert list(responses["alert list"].context["alerts"]) == []


# Pages no link from the navigation leads to, by design: the API, the day board's refreshed
# part, the dispensing record's downloads (offered once its form is run), a visit's .ics (on
# the patient's calendar page, which a clinic administrator does not open), and the pages of
# records this clinic has none of.
NOT_LINKED = {
    "day board fragment", "OpenAPI document", "API root", "infusion record API",
    "ledger balance API", "ledger container API", "count sheet API", "discrepancies API",
    "dispensing record CSV", "dispensing record PDF", "visit .ics",
    "count result", "theft or loss report", "resolve a discrepancy",
    "FHIR bulk export", "FHIR Group export", "FHIR export status", "FHIR export file",
    "FHIR metadata", "FHIR Patient search", "FHIR Patient read", "FHIR $everything",
}  # fmt: skip


def _crawl(client, start: str) -> set[str]:
    """The URL names reached from `start` by following links (GET), each page opened once but
    the patient page, opened for each of the three patients (each has other links)."""
    seen: set[str] = set()
    opened: dict[str, int] = {}
    queue = [start]
    while queue:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        try:
            match = resolve(path.split("?")[0])
        except Resolver404:
            continue
        name = f"{match.namespace}:{match.url_name}"
        limit = 3 if name == "clinic:patient_detail" else 1
        if opened.get(name, 0) >= limit or name == "accounts:logout":
            continue
        response = client.get(path)
        if response.status_code == TO:  # a role's landing page
            queue.append(response["Location"])
        if response.status_code != OK:
            continue
        opened[name] = opened.get(name, 0) + 1
        if "html" in response.get("Content-Type", ""):
            html = response.content.decode()
            queue.extend(
                link.replace("&amp;", "&")
                for link in re.findall(r'href="(/[^"#]*)"', html)
                if not link.startswith("/static/")
            )
    return set(opened)


@pytest.mark.parametrize("role", ROLES[:-1])
def test_every_page_a_role_may_use_is_reached_from_its_landing_page(db, login, clinic, role):
    """Issue 13, item 5: nothing a role may open is hidden behind a page it has no way to."""
    with time_machine.travel(NOW, tick=False):
        reached = _crawl(login(clinic.users[role]), "/")
    may = {
        PAGES[page].name
        for page, statuses in STATUS.items()
        if statuses[ROLES.index(role)] == OK and page not in NOT_LINKED
    }
    assert sorted(may - reached) == []
