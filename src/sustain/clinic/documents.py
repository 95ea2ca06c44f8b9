"""Printable documents for the patient (issue 13, item 8): the consent form of a protocol
(blank, or with the patient's name) and the discharge instructions of a visit, as PDFs made
with WeasyPrint, as the infusion record's.

Each carries the site's details (name, address, phone), the protocol's title and version, and
the site's preparation text (ClinicRules.visit_preparation, which the site sets: its fasting
hours and "until the next day" are clinic defaults, unconfirmed; sustain_core.clinic_rules).
The sentences below are the ones a source gives, each with its citation (clinical-facts).
Reads of a patient are audited by the queries that find them (sustain.clinic.queries).
"""

import datetime as dt
from typing import TYPE_CHECKING

from django.template.loader import render_to_string

from sustain.accounts.models import Site
from sustain.care import rules
from sustain.care.models import Patient
from sustain.interop.fhir import record
from sustain.interop.fhir.registry import Json
from sustain.scheduling.models import Appointment
from sustain_core import protocols
from sustain_core.numbers import plain

if TYPE_CHECKING:
    from weasyprint import Document

# What an infusion commonly causes, as a community IV series reported it (n=203): drowsiness
# 56.4 %, dizziness 45.2 %, dissociation 35.6 %, nausea 13.3 %; no psychosis, mania or new
# suicidality [Rodrigues2020]; raised blood pressure and heart rate [Ketalar-label]
# (clinical-facts §5e). Worsened depression (8.4 %) and more suicidal thoughts (6.0 %) after
# induction in a community cohort [McInnes2022] (§5e).
COMMON_EFFECTS = (
    "Drowsiness (about half of patients), dizziness (almost half), feeling detached from "
    "yourself or your surroundings (about a third) and nausea (about one in eight), usually "
    "passing within the visit [Rodrigues2020].",
    "A rise in blood pressure and heart rate during the infusion, which is why they are "
    "measured throughout [Ketalar-label].",
    "In a few patients, low mood or suicidal thoughts can get worse; tell the team at once "
    "if they do [McInnes2022].",
)

# After an outpatient dose the patient is not released until recovery is complete and is then
# accompanied by a responsible adult [Ketalar-label]; no driving for at least 8 h [ED-scirp]
# (clinical-facts §5d). A clinic's longer rule (no driving until the next day, a clinic
# practice example, secondary) is in its own preparation text.
AFTER_INFUSION = (
    "You stay at the clinic until you have recovered, and then go home with a responsible "
    "adult [Ketalar-label].",
    "Do not drive, cycle or operate machinery for at least 8 hours after the infusion [ED-scirp].",
)

# The rest of the day after discharge: dissociation peaks at the 40-min timepoint and is absent
# later [Diazgranados2010] (clinical-facts §5c); CNS depressants add to ketamine's sedation
# [Ketalar-label] (§5b).
REST_OF_TODAY = (
    "Feeling detached, drowsy or dizzy usually passes soon after the infusion "
    "[Diazgranados2010]; tell the clinic if it does not.",
    "Avoid alcohol for the rest of the day: it adds to ketamine's sedation [Ketalar-label].",
)


def _site_details(site: Site, *, now: dt.datetime) -> dict[str, object]:
    return {
        "site": site,
        "address_lines": [line for line in site.address.splitlines() if line.strip()],
        "preparation": rules.current_rules(site).visit_preparation,
        "printed_at": now,
        "tz": site.tz,
    }


def dose_in_words(protocol: protocols.Protocol) -> str:
    """The session's dose as the patient reads it, e.g. "0.5 mg for each kg of body weight,
    over 40 minutes" (the exact dose is the prescriber's, on the patient's weight)."""
    regimen = protocol.regimen
    minutes = regimen.infusion_minutes
    if regimen.mg_per_kg_per_h is not None:  # a per-hour regimen (DoseRegimen holds one)
        per_hour = plain(regimen.mg_per_kg_per_h)
        return f"{per_hour} mg for each kg of body weight per hour, for {minutes} minutes"
    per_session = plain(regimen.mg_per_kg) if regimen.mg_per_kg is not None else ""
    return f"{per_session} mg for each kg of body weight, over {minutes} minutes"


def consent_form_id(protocol: protocols.Protocol) -> str:
    """The form's name and version as the consent is recorded ("Form and version")."""
    return f"Consent {protocol.key} v{protocol.version}"


def consent_html(
    *, site: Site, protocol: protocols.Protocol, patient: Patient | None, now: dt.datetime
) -> str:
    """The consent form of `protocol` at `site`: blank (lines to fill in) without a patient."""
    return render_to_string(
        "clinic/consent_pdf.html",
        {
            **_site_details(site, now=now),
            "protocol": protocol,
            "patient": patient,
            "form_id": consent_form_id(protocol),
            "dose": dose_in_words(protocol),
            "common_effects": COMMON_EFFECTS,
            "after_infusion": AFTER_INFUSION,
        },
    )


def discharge_html(
    *,
    visit: Appointment,
    protocol: protocols.Protocol,
    next_visit: Appointment | None,
    now: dt.datetime,
) -> str:
    """The discharge instructions of `visit`, with the patient's name and the visit's date."""
    return render_to_string(
        "clinic/discharge_pdf.html",
        {
            **_site_details(visit.site, now=now),
            "visit": visit,
            "patient": visit.patient,
            "protocol": protocol,
            "next_visit": next_visit,
            "after_infusion": AFTER_INFUSION + REST_OF_TODAY,
        },
    )


def render(html: str) -> "Document":
    """The laid-out document (its pages' text can be read before it is written)."""
    from weasyprint import HTML  # noqa: PLC0415 - Pango is loaded only when a PDF is made

    return HTML(string=html).render()


def pdf(html: str) -> bytes:
    return bytes(render(html).write_pdf())


def record_html(*, patient: Patient, bundle: Json, now: dt.datetime) -> str:
    """The patient's record for the patient (issue 16, item 5): their details, then each
    section of the FHIR Bundle they were given with it (sustain.interop.fhir.record), in plain
    words, so the PDF and the Bundle hold the same record."""
    return render_to_string(
        "clinic/record_pdf.html",
        {
            **_site_details(patient.site, now=now),
            "patient": patient,
            "sections": record.sections(bundle),
            "count": len(bundle.get("entry", [])),
        },
    )
