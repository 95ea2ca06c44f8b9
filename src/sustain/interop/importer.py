"""`sustain fhir-import`: patients and what maps of their record from FHIR R4 files another
system wrote (issue 16, item 6): Bundles (.json: transaction, batch, collection, searchset; a
single resource in a .json file too) and bulk-export NDJSON (.ndjson, one resource a line,
FHIR Bulk Data IG, https://hl7.org/fhir/uv/bulkdata/).

What is taken (every resource is first checked by its fhir.resources.R4B model, FHIR-06):
- Patient → care.Patient: the official (else first) name, birthDate, gender (administrative
  gender, the same values as Sex), the first phone and e-mail, the address as text. The MRN is
  the site's next (care.services.next_mrn), as at registration. The indication is "not yet
  assessed" (blank primary_condition) until a clinician assesses it. The source's record
  identifiers are kept (care.PatientIdentifier); identity-document numbers (the US SSN, a
  driver's licence, a passport: v2-0203 types SS, DL, PPN) are not (data minimisation). A
  patient whose kept identifier is already at the site is that patient: nothing of theirs is
  changed, only what is new of their resources is added, so a second import changes nothing.
- Condition → care.RecordedCondition (its own coding, statuses and dates; once per source id).
- MedicationStatement / MedicationRequest with a coded medication → care.Medication (the RxNorm
  code as rxcui where the coding is RxNorm; the name from its display or text).
- Observation body weight (LOINC 29463-7, kg) → care.WeightMeasurement; body height (8302-2, cm)
  → Patient.height_cm when the patient has none (the latest in the input). A value outside the
  model's limits is reported, never clamped or rounded (sustain_core.dosing).
- Anything else is reported "not taken" with its file, line (NDJSON line or Bundle entry index)
  and reason.

One transaction per patient with all their resources: a patient with a resource that does not
parse (a malformed line naming them included) is skipped whole and reported. Rows are created
by the inactive service user "fhir-import"; each patient whose record gained rows gets one
audit event (create), and every run one summary event.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError as ModelError

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import Site, User
from sustain.care import services
from sustain.care.enums import Sex
from sustain.care.models import (
    Medication,
    Patient,
    PatientIdentifier,
    RecordedCondition,
    WeightMeasurement,
)
from sustain.interop.fhir import codes
from sustain.interop.models import ImportedResource
from sustain_core import dosing, medications
from sustain_core.errors import ClinicalValueError

Json = dict[str, Any]
SERVICE_USERNAME = "fhir-import"
TAKEN_TYPES = ("Patient", "Condition", "MedicationStatement", "MedicationRequest", "Observation")
BUNDLE_TYPES = ("transaction", "batch", "collection", "searchset")
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
# Identity-document numbers, not record numbers: never kept (v2-0203 identifier types).
NOT_KEPT_TYPES = frozenset({"SS", "DL", "PPN"})
NOT_KEPT_SYSTEMS = frozenset({"http://hl7.org/fhir/sid/us-ssn"})
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class BadPath(ValueError):
    """The path cannot be read (the command's bad input)."""


@dataclass
class Item:
    """One resource as read: where it is, the resource (None if it did not parse), why not."""

    where: str  # "Patient.000.ndjson line 3" or "bundle.json entry 2"
    resource: Json | None = None
    full_url: str = ""
    error: str = ""
    raw: str = ""

    @property
    def type(self) -> str:
        return str(self.resource.get("resourceType", "")) if self.resource else ""

    @property
    def source_id(self) -> str:
        if self.resource and isinstance(self.resource.get("id"), str):
            return str(self.resource["id"])
        return self.full_url.rpartition(":")[2].rpartition("/")[2][:64]


@dataclass
class Report:
    taken: Counter[str] = field(default_factory=Counter)  # new rows per resource type
    unchanged: Counter[str] = field(default_factory=Counter)  # already imported before
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (where, reason)
    patients_created: int = 0

    def skip(self, where: str, reason: str) -> None:
        self.skipped.append((where, reason))

    def lines(self) -> list[str]:
        out = [f"not taken: {where}: {reason}" for where, reason in self.skipped]
        for kind in TAKEN_TYPES:
            if self.taken[kind] or self.unchanged[kind]:
                out.append(
                    f"{kind}: {self.taken[kind]} taken, {self.unchanged[kind]} already imported"
                )
        out.append(
            f"{sum(self.taken.values())} taken, {sum(self.unchanged.values())} already imported, "
            f"{len(self.skipped)} not taken"
        )
        return out


# -- reading ------------------------------------------------------------------------------------


def files_in(path: Path) -> list[Path]:
    """The .json and .ndjson files at `path` (a file, or a directory's, in name order)."""
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix in {".json", ".ndjson"})
        if not found:
            raise BadPath(f"{path} has no .json or .ndjson files")
        return found
    if not path.is_file():
        raise BadPath(f"{path} is not a file or a directory")
    if path.suffix not in {".json", ".ndjson"}:
        raise BadPath(f"{path} is not a .json (Bundle) or .ndjson file")
    return [path]


def read(path: Path, report: Report) -> list[Item]:
    items: list[Item] = []
    for file in files_in(path):
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise BadPath(f"cannot read {file}: {error}") from None
        if file.suffix == ".ndjson":
            items.extend(_ndjson(file.name, text))
        else:
            items.extend(_bundle(file.name, text, report))
    return items


def _ndjson(name: str, text: str) -> Iterator[Item]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{name} line {number}"
        try:
            resource = json.loads(line)
        except json.JSONDecodeError as error:
            yield Item(where, error=f"malformed JSON ({error.msg}, column {error.colno})", raw=line)
            continue
        yield _item(where, resource, "")


def _bundle(name: str, text: str, report: Report) -> Iterator[Item]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        report.skip(f"{name} line {error.lineno}", f"malformed JSON ({error.msg}): file not read")
        return
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        yield _item(f"{name} resource", data, "")
        return
    if data.get("type") not in BUNDLE_TYPES:
        report.skip(name, f"a Bundle of type {data.get('type')!r} is not read")
        return
    entries = data.get("entry") or []
    if not isinstance(entries, list):
        report.skip(name, "the Bundle's entry is not a list")
        return
    for index, entry in enumerate(entries):
        where = f"{name} entry {index}"
        if not isinstance(entry, dict) or "resource" not in entry:
            yield Item(where, error="an entry without a resource")
            continue
        full_url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else ""
        yield _item(where, entry["resource"], full_url or "")


def _item(where: str, resource: Any, full_url: str) -> Item:
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        return Item(where, error="not a FHIR resource (no resourceType)", raw=json.dumps(resource))
    item = Item(where, resource, full_url)
    kind = item.type
    try:
        model = get_fhir_model_class(kind)
    except (ValueError, KeyError, AttributeError):
        item.error = f"unknown resourceType {kind!r}"
        return item
    if kind not in TAKEN_TYPES:
        item.error = f"not taken: Sustain does not import {kind}"
        return item
    try:
        model.model_validate(resource)
    except (ModelError, ValueError, TypeError) as error:
        item.error = f"not a valid R4 {kind}: {_first_error(error)}"
    return item


def _first_error(error: Exception) -> str:
    if isinstance(error, ModelError) and error.errors():
        first = error.errors()[0]
        at = ".".join(str(p) for p in first.get("loc", ()))
        return f"{at}: {first.get('msg', '')}"[:200]
    return str(error).splitlines()[0][:200]


# -- grouping -----------------------------------------------------------------------------------


@dataclass
class Group:
    patient: Item
    others: list[Item] = field(default_factory=list)
    failures: list[Item] = field(default_factory=list)


def _subject(resource: Json | None) -> str:
    if not resource:
        return ""
    subject = resource.get("subject") or resource.get("patient") or {}
    ref = subject.get("reference") if isinstance(subject, dict) else None
    return ref if isinstance(ref, str) else ""


def group(items: list[Item], report: Report) -> list[Group]:
    """The patients read, each with their resources; what has no patient in the input is
    reported. A resource that failed to parse goes with the patient it names (a malformed line
    with the patient whose id it contains), so that patient is skipped whole."""
    groups: dict[str, Group] = {}
    order: list[Group] = []
    for item in items:
        if item.type == "Patient" and not item.error.startswith("unknown"):
            g = Group(item)
            order.append(g)
            for ref in (f"Patient/{item.source_id}", item.full_url):
                if ref and ref != "Patient/":
                    groups.setdefault(ref, g)
    for item in items:
        if item.type == "Patient":
            if item.error:
                groups[f"Patient/{item.source_id}"].failures.append(item)
            continue
        ref = _subject(item.resource)
        owner = groups.get(ref)
        if owner is None and item.raw:
            owner = next((g for g in order if g.patient.source_id in item.raw), None)
        if item.error and (owner is None or item.error.startswith("not taken")):
            report.skip(item.where, item.error.removeprefix("not taken: "))
        elif item.error and owner is not None:
            owner.failures.append(item)
        elif owner is None:
            report.skip(
                item.where, f"{item.type}: its subject {ref or '(none)'} is not in the input"
            )
        else:
            owner.others.append(item)
    return order


# -- taking -------------------------------------------------------------------------------------


def service_user() -> User:
    """The inactive user the import acts as (no usable password; created on first use)."""
    user, created = User.objects.get_or_create(
        username=SERVICE_USERNAME,
        defaults={"is_active": False, "first_name": "FHIR", "last_name": "import"},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def site_named(value: str | None) -> Site:
    """The site by name or pk; with none given, the only site (ValueError otherwise)."""
    sites = list(Site.objects.order_by("pk"))
    if value is None:
        if len(sites) == 1:
            return sites[0]
        names = ", ".join(s.name for s in sites) or "none yet"
        raise ValueError(f"say which site with --site (the sites: {names})")
    for site in sites:
        if site.name == value or str(site.pk) == value:
            return site
    names = ", ".join(s.name for s in sites) or "none yet"
    raise ValueError(f"no site {value!r} (the sites: {names})")


class Refused(Exception):
    """This patient cannot be taken (the transaction is rolled back)."""


def run(path: Path, site: Site, *, now: dt.datetime) -> Report:
    """Import `path` into `site` as at `now` and say what was taken and what not."""
    report = Report()
    items = read(path, report)
    by = service_user()
    for g in group(items, report):
        if g.failures:
            for failed in g.failures:
                report.skip(failed.where, failed.error)
            report.skip(
                g.patient.where,
                f"Patient {g.patient.source_id} and its {len(g.others)} other resource(s) not "
                f"taken: {len(g.failures)} of its resources did not parse",
            )
            continue
        taken = Report()
        try:
            with transaction.atomic():
                _take(g, site, by, now, taken)
        except Refused as refused:
            report.skip(
                g.patient.where,
                f"Patient {g.patient.source_id} and its {len(g.others)} other resource(s) not "
                f"taken: {refused}",
            )
            continue
        report.taken.update(taken.taken)
        report.unchanged.update(taken.unchanged)
        report.skipped.extend(taken.skipped)
        report.patients_created += taken.patients_created
    new = sum(report.taken.values())
    record_event(
        actor=by, action=AuditAction.CREATE, category=DataCategory.PATIENT_RECORD, site=site,
        reason=f"fhir-import: {report.taken['Patient']} patients, {new} rows"[:40],
    )  # fmt: skip
    return report


def _take(g: Group, site: Site, by: User, now: dt.datetime, report: Report) -> None:
    patient, created = _patient(g.patient, site, by, now)
    if created:
        report.taken["Patient"] += 1
        report.patients_created += 1
    else:
        report.unchanged["Patient"] += 1
    seen = Seen(
        patient=patient, by=by, now=now,
        conditions=set(patient.recorded_conditions.values_list("source_id", flat=True))
        if not created else set(),
        resources=set(
            ImportedResource.objects.filter(patient=patient).values_list(
                "resource_type", "source_id"
            )
        ) if not created else set(),
    )  # fmt: skip
    for item in g.others:
        kind = item.type
        resource = item.resource or {}
        if not item.source_id:
            report.skip(item.where, f"{kind} without an id: a re-import could not match it")
            continue
        done: bool | None  # True: taken; False: imported before; None: decided later (heights)
        try:
            if kind == "Condition":
                done = _condition(item, resource, seen)
            elif kind in {"MedicationStatement", "MedicationRequest"}:
                done = _medication(item, resource, seen)
            else:
                done = _observation(item, resource, seen)
        except NotTaken as why:
            report.skip(item.where, f"{kind}: {why}")
            continue
        if done:
            report.taken[kind] += 1
        elif done is False:
            report.unchanged[kind] += 1
    RecordedCondition.objects.bulk_create(seen.new_conditions)
    if seen.heights:
        _height(seen, report)
    rows = sum(report.taken.values())
    if rows:
        services.record_patient_event(
            by=by, patient=patient, obj=patient,
            category=DataCategory.DEMOGRAPHICS if created else DataCategory.PATIENT_RECORD,
            reason=f"fhir-import: {rows} new rows"[:40],
        )  # fmt: skip


@dataclass
class Seen:
    """One patient being taken: what their record already has from earlier imports (read
    once per patient), who takes it and when."""

    patient: Patient
    by: User
    now: dt.datetime
    conditions: set[str]  # RecordedCondition.source_id
    resources: set[tuple[str, str]]  # ImportedResource (resource_type, source_id)
    new_conditions: list[RecordedCondition] = field(default_factory=list)
    heights: list[tuple[str, Decimal, Item]] = field(default_factory=list)


class NotTaken(Exception):
    """This resource is reported, not taken; the patient's others still are."""


def _kept_identifiers(resource: Json) -> list[tuple[str, str]]:
    kept = []
    for identifier in resource.get("identifier") or []:
        system, value = identifier.get("system") or "", identifier.get("value") or ""
        types = {
            c.get("code")
            for c in (identifier.get("type") or {}).get("coding") or []
            if c.get("system") == V2_0203
        }
        if value and system not in NOT_KEPT_SYSTEMS and not types & NOT_KEPT_TYPES:
            kept.append((system[:255], value[:255]))
    return kept


def _patient(item: Item, site: Site, by: User, now: dt.datetime) -> tuple[Patient, bool]:
    resource = item.resource or {}
    kept = _kept_identifiers(resource)
    if not kept:
        raise Refused("it has no identifier to match it on a re-import")
    found = {
        i.patient_id: i.patient
        for i in PatientIdentifier.objects.select_related("patient").filter(
            site=site, system__in=[s for s, _ in kept], value__in=[v for _, v in kept]
        )
        if (i.system, i.value) in kept
    }
    if len(found) > 1:
        raise Refused(f"its identifiers name {len(found)} different patients here")
    if found:
        patient = next(iter(found.values()))
        created = False
    else:
        patient = _new_patient(resource, site, by, now)
        created = True
    have = set(patient.identifiers.values_list("system", "value")) if not created else set()
    PatientIdentifier.objects.bulk_create(
        PatientIdentifier(site=site, patient=patient, system=s, value=v, created_at=now)
        for s, v in dict.fromkeys(kept)
        if (s, v) not in have
    )
    return patient, created


def _new_patient(resource: Json, site: Site, by: User, now: dt.datetime) -> Patient:
    names = resource.get("name") or []
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    given = " ".join(name.get("given") or []).strip()
    family = (name.get("family") or "").strip()
    if not given or not family:
        raise Refused("it has no given and family name")
    if not _DATE.fullmatch(resource.get("birthDate") or ""):
        raise Refused("it has no full birthDate")
    born = dt.date.fromisoformat(resource["birthDate"])
    gender = resource.get("gender") or Sex.UNKNOWN
    telecom = resource.get("telecom") or []
    phone = next((t.get("value", "") for t in telecom if t.get("system") == "phone"), "")
    email = next((t.get("value", "") for t in telecom if t.get("system") == "email"), "")
    try:
        services.validate_date_of_birth(born, today=now.astimezone(site.tz).date())
        patient = Patient(
            site=site, mrn=services.next_mrn(site), given_name=given, family_name=family,
            date_of_birth=born, sex=gender, phone=phone.strip(), email=email.strip(),
            address=_address(resource), primary_condition="", created_at=now, created_by=by,
        )  # fmt: skip
        patient.full_clean()
    except ClinicalValueError as error:
        raise Refused(error.message) from None
    except ValidationError as error:
        messages = "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
        raise Refused(messages) from None
    patient.save(force_insert=True)
    return patient


def _address(resource: Json) -> str:
    addresses = resource.get("address") or []
    if not addresses:
        return ""
    a = addresses[0]
    if a.get("text"):
        return str(a["text"])
    place = " ".join(p for p in (a.get("state"), a.get("postalCode")) if p)
    parts = [*(a.get("line") or []), a.get("city"), place, a.get("country")]
    return ", ".join(p for p in parts if p)


def _when(value: Any) -> dt.datetime | None:
    """A FHIR dateTime as an aware datetime; a full date as its midnight in UTC; a partial
    date ("2010", "2010-05") or none: None (not guessed)."""
    if not isinstance(value, str):
        return None
    if _DATE.fullmatch(value):
        return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=dt.UTC)
    try:
        found = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo else None


def _first_code(concept: Any, system: str = "") -> tuple[str, str]:
    for coding in (concept or {}).get("coding") or []:
        if not system or coding.get("system") == system:
            return coding.get("code") or "", coding.get("display") or ""
    return "", ""


def _condition(item: Item, r: Json, seen: Seen) -> bool:
    patient, by, now = seen.patient, seen.by, seen.now
    if item.source_id in seen.conditions:
        return False
    codings = (r.get("code") or {}).get("coding") or []
    known = {codes.system("snomed"), codes.system("icd10cm")}
    coding = next((c for c in codings if c.get("system") in known), codings[0] if codings else {})
    text = (r.get("code") or {}).get("text") or ""
    if not coding.get("code") and not text:
        raise NotTaken("no code and no text")
    if _first_code(r.get("verificationStatus"))[0] == "entered-in-error":
        raise NotTaken("entered in error")
    onset = r.get("onsetDateTime") or (r.get("onsetPeriod") or {}).get("start")
    abatement = r.get("abatementDateTime") or (r.get("abatementPeriod") or {}).get("end")
    row = RecordedCondition(
        patient=patient, source_id=item.source_id,
        code_system=(coding.get("system") or "")[:255], code=(coding.get("code") or "")[:64],
        display=(coding.get("display") or "")[:255], text=text[:255],
        category=_first_code((r.get("category") or [{}])[0])[0][:40],
        clinical_status=_first_code(r.get("clinicalStatus"))[0][:20],
        verification_status=_first_code(r.get("verificationStatus"))[0][:20],
        onset=_when(onset), abatement=_when(abatement), recorded_date=_when(r.get("recordedDate")),
        created_at=now, created_by=by,
    )  # fmt: skip
    seen.conditions.add(item.source_id)
    seen.new_conditions.append(row)
    return True


def _once(item: Item, seen: Seen) -> bool:
    """Taken before (or earlier in this input: the same resource twice is taken once)."""
    if (item.type, item.source_id) in seen.resources:
        return True
    seen.resources.add((item.type, item.source_id))
    return False


def _mark(item: Item, patient: Patient, row: Any, now: dt.datetime) -> None:
    ImportedResource.objects.create(
        patient=patient, resource_type=item.type, source_id=item.source_id,
        taken_as=row._meta.label if row is not None else "care.Patient.height_cm",
        taken_id=row.pk if row is not None else None, created_at=now,
    )  # fmt: skip


def _medication(item: Item, r: Json, seen: Seen) -> bool:
    patient, by, now = seen.patient, seen.by, seen.now
    if _once(item, seen):
        return False
    if r.get("status") == "entered-in-error":
        raise NotTaken("entered in error")
    concept = r.get("medicationCodeableConcept")
    if not concept:
        raise NotTaken("the medication is a reference to a Medication resource, not read")
    rxcui, display = _first_code(concept, codes.system("rxnorm"))
    name = (display or concept.get("text") or _first_code(concept)[1]).strip()
    if not name:
        raise NotTaken("the medication has no name")
    if len(name) > medications.NAME_MAX_CHARACTERS or len(rxcui) > 12:
        raise NotTaken("the medication's name or code is too long")
    period = r.get("effectivePeriod") or {}
    started = _when(r.get("effectiveDateTime") or period.get("start") or r.get("authoredOn"))
    stopped = _when(period.get("end")) if r.get("status") in {"stopped", "completed"} else None
    if r.get("status") in {"stopped", "completed"} and stopped is None:
        raise NotTaken(f"status {r['status']} without the date it ended")
    row = Medication(
        patient=patient, name=name, rxcui=rxcui,
        dose=" ".join(d.get("text", "") for d in r.get("dosage") or r.get("dosageInstruction")
                      or [])[:300],
        started_on=started.date() if started else None,
        stopped_on=stopped.date() if stopped else None,
        stopped_by=by if stopped else None, stop_recorded_at=now if stopped else None,
        recorded_by=by, recorded_at=now,
    )  # fmt: skip
    try:
        row.full_clean()
    except ValidationError as error:
        raise NotTaken("; ".join(error.messages)) from None
    row.save(force_insert=True)
    _mark(item, patient, row, now)
    return True


def _quantity(r: Json, unit: str) -> Decimal:
    q = r.get("valueQuantity") or {}
    if q.get("code") != unit or q.get("system") != codes.system("ucum"):
        raise NotTaken(f"the value is not in UCUM {unit}")
    try:
        return Decimal(str(q.get("value")))
    except InvalidOperation:
        raise NotTaken("the value is not a number") from None


def _observation(item: Item, r: Json, seen: Seen) -> bool | None:
    patient, by, now = seen.patient, seen.by, seen.now
    loinc = codes.system("loinc")
    code = _first_code(r.get("code"), loinc)[0]
    if code not in {codes.code("body-weight").code, codes.code("body-height").code}:
        shown = code or _first_code(r.get("code"))[0] or "uncoded"
        raise NotTaken(f"{shown} is not mapped (only body weight 29463-7 and height 8302-2)")
    if r.get("status") not in {"final", "amended", "corrected"}:
        raise NotTaken(f"status {r.get('status')!r}, not a final result")
    if _once(item, seen):
        return False
    when = _when(r.get("effectiveDateTime") or (r.get("effectivePeriod") or {}).get("start"))
    if when is None:
        raise NotTaken("no full effective date")
    try:
        if code == codes.code("body-height").code:
            height = dosing.validate_height_cm(_quantity(r, "cm"))
            seen.heights.append((when.isoformat(), height, item))
            return None
        weight = dosing.validate_weight_kg(_quantity(r, "kg"))
    except ClinicalValueError as error:
        raise NotTaken(error.message) from None
    row = WeightMeasurement.objects.create(
        patient=patient, weight_kg=weight, measured_on=when.date(), recorded_at=now,
        recorded_by=by,
    )  # fmt: skip
    _mark(item, patient, row, now)
    return True


def _height(seen: Seen, report: Report) -> None:
    """The latest height in the input, when the patient has none recorded."""
    patient = seen.patient
    *older, (_, height, latest) = sorted(seen.heights, key=lambda h: h[0])
    for _, _, item in older:
        report.skip(item.where, "Observation: a later height in the input was taken")
    if patient.height_cm is not None:
        report.skip(latest.where, "Observation: the patient's height is already recorded")
        return
    patient.height_cm = height
    patient.save(update_fields=["height_cm"])
    _mark(latest, patient, None, seen.now)
    report.taken["Observation"] += 1
