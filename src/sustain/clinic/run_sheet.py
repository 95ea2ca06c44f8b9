"""The nightly downtime run sheet (issue 14, BTG-04; HIPAA 164.308(a)(7)(ii)(C), the
emergency-mode operation plan; security-reliability-interop.md §1.6): so an outage of Sustain
does not stop safe care, each site's visits of the next day, with what the chair side needs
without the app (time, patient name, MRN, date of birth, chair, protocol and planned dose,
allergies, emergency contact), as a PDF encrypted with AES-256 under the password
SUSTAIN_RUN_SHEET_PASSWORD (pypdf), written with mode 0600 into SUSTAIN_RUN_SHEET_DIR. It
opens in any PDF reader given the password.

No password (or a short one), no sheet: it is refused before anything is read, and the file
is encrypted in memory and only then written (to a temporary file in the same directory,
renamed over the old one), so no unencrypted copy ever touches the disk. Each sheet written
is one audit event per site (an export by the worker, or by whoever ran the command).
"""

import datetime as dt
import os
import tempfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from django.conf import settings
from django.db.models import Prefetch
from django.template.loader import render_to_string
from pypdf import PdfReader, PdfWriter

from sustain.accounts.audit import WORKER, record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import Site
from sustain.care import protocol_versions, rules
from sustain.care.models import Allergy
from sustain.clinic import documents
from sustain.infusion import services as infusion_services
from sustain.scheduling.enums import AppointmentStatus
from sustain.scheduling.models import Appointment
from sustain_core import dosing
from sustain_core.errors import ClinicalValueError
from sustain_core.numbers import plain

PASSWORD_MIN_CHARACTERS = 12


class RunSheetRefused(Exception):
    """The run sheet cannot be written safely (no password); nothing was written."""


@dataclass(frozen=True)
class Row:
    """One visit as the sheet prints it."""

    time: str
    patient: str
    mrn: str
    born: dt.date
    chair: str
    protocol: str
    dose: str
    allergies: list[str]
    no_known_allergies: bool
    emergency_contact: str


def _dose(visit: Appointment, site_rules: object) -> str:
    try:
        plan = infusion_services.plan_dose(
            appointment=visit,
            vial_mg_per_ml=dosing.ALLOWED_VIAL_MG_PER_ML[-1],
            rules=site_rules,  # type: ignore[arg-type]
        )
    except ClinicalValueError as error:
        return f"not planned: {error.message}"
    if isinstance(plan, dosing.HourlyDosePlan):
        return (
            f"{plain(plan.total_mg)} mg ({plain(plan.mg_per_kg_per_h)} mg/kg/h on "
            f"{plain(plan.weight_kg)} kg, {plain(plan.dose_rate_mg_per_h)} mg/h)"
        )
    return f"{plain(plan.dose_mg)} mg ({plain(plan.mg_per_kg)} mg/kg on {plain(plan.weight_kg)} kg)"


def rows_for(site: Site, day: dt.date) -> list[Row]:
    """The site's booked visits on its local `day`, in time order."""
    tz = site.tz
    start = dt.datetime.combine(day, dt.time(), tzinfo=tz)
    visits = (
        Appointment.objects.filter(
            site=site,
            status=AppointmentStatus.BOOKED,
            starts_at__gte=start,
            starts_at__lt=start + dt.timedelta(days=1),
        )
        .select_related("patient__site", "chair", "course")
        .prefetch_related(
            Prefetch(
                "patient__allergies",
                Allergy.objects.filter(removed_at__isnull=True).order_by("substance"),
                to_attr="active_allergies",
            )
        )
        .order_by("starts_at", "chair__name")
    )
    site_rules = rules.current_rules(site).as_rules()
    rows = []
    for visit in visits:
        patient = visit.patient
        protocol = protocol_versions.protocol_for(visit.course)
        contact = ", ".join(
            part
            for part in (
                patient.emergency_contact_name,
                patient.emergency_contact_relation,
                patient.emergency_contact_phone,
            )
            if part
        )
        rows.append(
            Row(
                time=f"{visit.starts_at.astimezone(tz):%H:%M}–{visit.ends_at.astimezone(tz):%H:%M}",
                patient=f"{patient.family_name}, {patient.given_name}",
                mrn=patient.mrn,
                born=patient.date_of_birth,
                chair=visit.chair.name,
                protocol=f"{protocol.title} (v{protocol.version}), visit {visit.number}",
                dose=_dose(visit, site_rules),
                allergies=[
                    f"{a.substance} ({a.get_severity_display().lower()}"
                    + (f": {a.reaction})" if a.reaction else ")")
                    for a in patient.active_allergies  # type: ignore[attr-defined]
                ],
                no_known_allergies=patient.no_known_allergies_at is not None,
                emergency_contact=contact or "none recorded",
            )
        )
    return rows


def sheet_pdf(sites: list[Site], day: dt.date, *, now: dt.datetime) -> bytes:
    """The run sheet of `sites` for `day` (one section a site), unencrypted: only encrypted()
    ever writes it."""
    sections = [(site, rows_for(site, day)) for site in sites]
    html = render_to_string(
        "clinic/run_sheet_pdf.html",
        {"sections": sections, "day": day, "printed_at": now, "footer": f"Run sheet {day}"},
    )
    return documents.pdf(html)


def check_password(password: str) -> str:
    if len(password) < PASSWORD_MIN_CHARACTERS:
        raise RunSheetRefused(
            "SUSTAIN_RUN_SHEET_PASSWORD is not set (or shorter than "
            f"{PASSWORD_MIN_CHARACTERS} characters): no run sheet is written unencrypted"
        )
    return password


def encrypted(pdf: bytes, password: str) -> bytes:
    """`pdf` encrypted with AES-256 (PDF 2.0 / revision 6): it opens with `password`."""
    writer = PdfWriter(clone_from=PdfReader(BytesIO(pdf)))
    writer.encrypt(user_password=check_password(password), algorithm="AES-256")
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def write_private(path: Path, data: bytes) -> Path:
    """Write `data` to `path` with mode 0600: into a temporary file in the same directory
    (created 0600), then renamed over `path`, so a reader never sees half a sheet."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".run-sheet-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_sheet(
    sites: list[Site], day: dt.date, out: Path, *, now: dt.datetime, by: str = WORKER
) -> Path:
    """Write the encrypted run sheet of `sites` for `day` to `out`; one audit event (an
    export) per site. RunSheetRefused, with nothing read or written, without the password."""
    password = check_password(settings.SUSTAIN_RUN_SHEET_PASSWORD)
    data = encrypted(sheet_pdf(sites, day, now=now), password)
    for site in sites:
        record_event(
            actor=None, username=by, action=AuditAction.EXPORT,
            category=DataCategory.PATIENT_RECORD, site=site, reason=f"run sheet {day}",
        )  # fmt: skip
    return write_private(out, data)


def tomorrow(site: Site, now: dt.datetime) -> dt.date:
    return now.astimezone(site.tz).date() + dt.timedelta(days=1)


def file_name(site: Site, day: dt.date) -> str:
    return f"run-sheet-{day.isoformat()}-site-{site.pk}.pdf"


def write_nightly(*, now: dt.datetime) -> list[Path]:
    """Each site's sheet for its own tomorrow, one file a site in SUSTAIN_RUN_SHEET_DIR."""
    check_password(settings.SUSTAIN_RUN_SHEET_PASSWORD)
    folder = Path(settings.SUSTAIN_RUN_SHEET_DIR)
    written = []
    for site in Site.objects.order_by("name"):
        day = tomorrow(site, now)
        written.append(write_sheet([site], day, folder / file_name(site, day), now=now))
    return written
