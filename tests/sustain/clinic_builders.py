"""Build clinical records through the real services, for tests that need a clinic in mid-course
(the role × page table, the query-count guards). Every call takes an explicit time."""

import datetime as dt
from decimal import Decimal

from sustain.accounts.models import Site, User
from sustain.care import protocol_versions
from sustain.care import services as care
from sustain.care.enums import Timepoint
from sustain.care.models import Course, Patient
from sustain.clinic import story
from sustain.infusion import services as infusion
from sustain.infusion.enums import AdverseEventKind, AdverseEventSeverity
from sustain.infusion.models import InfusionRecord
from sustain.ledger.models import Container
from sustain.scheduling import services as scheduling
from sustain.scheduling.models import Appointment
from sustain_core import protocols

PROTOCOL = ("depression-induction", 1)


def at(site: Site, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """A wall-clock time at the site."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=site.tz)


def phq9(total: int, *, item9: int = 0) -> dict[str, int]:
    """PHQ-9 answers summing to `total`, item 9 (self-harm) answered `item9`."""
    answers = [0] * 9
    answers[8] = item9
    left = total - item9
    for n in range(8):
        answers[n] = min(3, left)
        left -= answers[n]
    assert left == 0, f"PHQ-9 cannot total {total} with item 9 at {item9}"
    return {str(n): value for n, value in enumerate(answers, start=1)}


def gad7(total: int) -> dict[str, int]:
    answers = [min(3, max(0, total - 3 * n)) for n in range(7)]
    return {str(n): value for n, value in enumerate(answers, start=1)}


def register(
    site: Site,
    by: User,
    given: str,
    family: str,
    *,
    on: dt.date,
    weight_kg: Decimal = Decimal("64.0"),
    height_cm: Decimal | None = Decimal("175.0"),
) -> Patient:
    """A patient with depression, weighed `on` the day registered, 175 cm tall by default (the
    clinic's default weight rule needs a height; at 64 kg the BMI is 20.9: actual weight).
    Every one is born on one day, so one family's are confirmed as distinct people (the
    duplicate check has its own tests)."""
    return care.register_patient(
        by=by, site=site, given_name=given, family_name=family,
        date_of_birth=dt.date(1975, 3, 4), sex="male", phone="555-0111",
        email=f"{given.lower()}@example.com", primary_condition="depression",
        weight_kg=weight_kg, height_cm=height_cm, today=on, now=at(site, on, 9),
        confirm_duplicate=True,
    )  # fmt: skip


def enrol(
    patient: Patient,
    prescriber: User,
    *,
    now: dt.datetime,
    protocol: tuple[str, int] = PROTOCOL,
) -> Course:
    return care.enrol_patient(
        patient=patient,
        protocol_key=protocol[0],
        protocol_version=protocol[1],
        by=prescriber,
        now=now,
    )


def ready_for_series(
    patient: Patient,
    *,
    prescriber: User,
    nurse: User,
    now: dt.datetime,
    phq9_total: int,
    gad7_total: int,
    protocol: tuple[str, int] = PROTOCOL,
) -> Course:
    """Enrolled, with the baseline PHQ-9 and GAD-7, signed consent and a signed screen."""
    course = enrol(patient, prescriber, now=now, protocol=protocol)
    for instrument, answers in (("phq9", phq9(phq9_total)), ("gad7", gad7(gad7_total))):
        care.record_assessment(
            patient=patient, instrument=instrument, answers=answers,
            timepoint=Timepoint.BASELINE, by=nurse, completed_at=now, now=now,
        )  # fmt: skip
    care.record_consent(
        course=course, signed_on=now.astimezone(patient.site.tz).date(),
        document="Ketamine consent v3", by=nurse, now=now,
    )  # fmt: skip
    protocol = protocol_versions.protocol_for(course)
    items = [*protocol.contraindications_absolute, *protocol.contraindications_relative]
    care.sign_contraindication_screen(
        course=course, answers=dict.fromkeys(items, False), notes="", by=prescriber, now=now
    )
    return course


def own_version(site: Site, by: User, *, now: dt.datetime) -> tuple[str, int]:
    """The site's own copy of the library protocol (a clinic version, read from the
    database), as (key, version)."""
    library = protocols.PROTOCOLS[PROTOCOL]
    row = protocol_versions.save_version(
        site=site, based_on=library, data=protocols.protocol_to_dict(library),
        change_note="Our own copy", by=by, now=now,
    )  # fmt: skip
    return row.key, row.version


def book_series(
    course: Course, scheduler: User, *, first: dt.datetime, now: dt.datetime
) -> list[Appointment]:
    return scheduling.book_series(course=course, earliest=first, by=scheduler, now=now)


def give_infusion(
    visit: Appointment,
    nurse: User,
    *,
    pre_phq9: dict[str, int] | None = None,
    prescriber: User | None = None,
    cadss_answers: dict[str, int | None] | None = None,
    adverse_event: tuple[AdverseEventKind, AdverseEventSeverity, str, str] | None = None,
) -> InfusionRecord:
    """The pre-infusion PHQ-9 (if given) 15 minutes before the visit, then the infusion day at
    the chair (sustain.clinic.story, with its CADSS or `cadss_answers`, and `adverse_event` in
    recovery), up to the nurse's signature. With `prescriber`, they
    clear the patient for today when that PHQ-9's item 9 opened a suicide-risk alert."""
    clearance = ""
    if pre_phq9 is not None:
        before = visit.starts_at - dt.timedelta(minutes=15)
        infusion.record_visit_assessment(
            appointment=visit, instrument="phq9", answers=pre_phq9,
            timepoint=Timepoint.PRE_INFUSION, by=nurse, completed_at=before, now=before,
        )  # fmt: skip
        if pre_phq9.get("9", 0) > 0:
            clearance = "Seen today: no plan or intent; safe to proceed"
    return story.uneventful_infusion(
        visit, nurse, prescriber, clearance=clearance, cadss_answers=cadss_answers,
        adverse_event=adverse_event,
    )  # fmt: skip


def stock(site: Site, admin: User, *, on: dt.date, containers: int = 3) -> list[Container]:
    """The site's DEA registration, a supplier, the 50 mg/mL 10 mL product and `containers`
    vials of one lot received `on` that day into the site's safe by `admin`, a clinic
    administrator (sustain.clinic.story.stock, through ledger.services.receive_stock)."""
    return story.stock(site, admin, on=on, containers=containers)


def vial(site: Site, strength_mg_per_ml: int = 50) -> Container:
    """The site's container of that strength holding the most (stock received first)."""
    found = (
        Container.objects.filter(
            location__site=site, lot__product__strength_mg_per_ml=strength_mg_per_ml
        )
        .order_by("-balance__balance_mg", "pk")
        .first()
    )
    assert found is not None, f"no {strength_mg_per_ml} mg/mL stock at {site.name}: use stock()"
    return found
