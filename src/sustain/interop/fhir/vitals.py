"""Vital signs as FHIR R4 Observations following the R4 core vital-signs profiles
(http://hl7.org/fhir/R4/observation-vitalsigns.html; reference §5.2, FHIR-04): one resource per
measure of a reading, only for the values it holds, ids "vitals-<pk>-<measure>":
- bp: panel 85354-9 with components 8480-6 (systolic) and 8462-4 (diastolic), mm[Hg];
- hr: 8867-4, /min;
- spo2: 2708-6 and 59408-5 (US Core pulse oximetry needs both), %;
- rr: 9279-1, /min.
Category vital-signs, effectiveDateTime the time taken, encounter the visit.

Other measures taken at the chair: the modified Aldrete score at discharge (0–10, the
chair-side record's `aldrete`) as "aldrete-<record pk>", category exam, a local code
(urn:sustain:observation: no LOINC code for it is confirmed in reference §5.2).
"""

from collections.abc import Callable
from typing import Any

from django.db.models import Q, QuerySet

from sustain.accounts.enums import DataCategory
from sustain.infusion.models import ChairsideRecord, VitalsReading
from sustain.interop.fhir import codes
from sustain.interop.fhir.registry import Json, Source, model_json
from sustain.interop.fhir.visits import encounter_ref, instant, patient_ref, practitioner_ref

LOCAL = "urn:sustain:observation"


def _observation(reading: VitalsReading, part: str, code: Json, **value: Any) -> Json:
    resource: Json = {
        "resourceType": "Observation",
        "id": f"vitals-{reading.pk}-{part}",
        "status": "final",
        "category": [codes.concept("category-vital-signs")],
        "code": code,
        "subject": patient_ref(reading.record.appointment.patient_id),
        "encounter": encounter_ref(reading.record.appointment_id),
        "effectiveDateTime": instant(reading.taken_at),
        "performer": [practitioner_ref(reading.recorded_by_id)],
        **value,
    }
    return model_json("Observation", resource)


def _readings(site_ids: frozenset[int]) -> QuerySet[VitalsReading]:
    return (
        VitalsReading.objects.filter(record__appointment__site__in=site_ids)
        .select_related("record__appointment")
        .order_by("pk")
    )


def _build_vitals(reading: VitalsReading) -> list[Json]:
    found: list[Json] = []
    systolic, diastolic = reading.systolic_mmhg, reading.diastolic_mmhg
    if systolic is not None or diastolic is not None:
        components = [
            {"code": codes.concept(name), "valueQuantity": codes.quantity(value, "mm[Hg]")}
            for name, value in (("bp-systolic", systolic), ("bp-diastolic", diastolic))
            if value is not None
        ]
        found.append(
            _observation(
                reading, "bp", codes.concept("bp-panel", text="Blood pressure"),
                component=components,
            )
        )  # fmt: skip
    for part, names, text, value, unit in (
        ("hr", ("heart-rate",), "Heart rate", reading.heart_rate_bpm, "/min"),
        ("spo2", ("spo2", "spo2-pulse-ox"), "Oxygen saturation", reading.spo2_percent, "%"),
        ("rr", ("respiratory-rate",), "Respiratory rate", reading.respiratory_rate_per_min,
         "/min"),
    ):  # fmt: skip
        if value is not None:
            found.append(
                _observation(
                    reading, part, codes.concept(*names, text=text),
                    valueQuantity=codes.quantity(value, unit),
                )
            )  # fmt: skip
    return found


def _aldrete_records(site_ids: frozenset[int]) -> QuerySet[ChairsideRecord]:
    return (
        ChairsideRecord.objects.filter(appointment__site__in=site_ids, aldrete__isnull=False)
        .select_related("appointment")
        .order_by("pk")
    )


def _build_aldrete(record: ChairsideRecord) -> list[Json]:
    taken = record.discharged_at or record.ended_at or record.checked_in_at
    resource: Json = {
        "resourceType": "Observation",
        "id": f"aldrete-{record.pk}",
        "status": "final",
        "category": [codes.concept("category-exam")],
        "code": {
            "coding": [
                {"system": LOCAL, "code": "aldrete-modified", "display": "Modified Aldrete score"}
            ],
            "text": "Modified Aldrete score (0-10)",
        },
        "subject": patient_ref(record.appointment.patient_id),
        "encounter": encounter_ref(record.appointment_id),
        "effectiveDateTime": instant(taken),
        "valueInteger": record.aldrete,
    }
    return [model_json("Observation", resource)]


def _category(code: str) -> Callable[[str], Q]:
    """`category=` answered in the database: every row of a source is of its one category."""

    def narrow(value: str) -> Q:
        wanted = {token.rpartition("|")[2] for token in value.split(",")}
        return Q() if code in wanted else Q(pk__in=[])

    return narrow


VITALS = Source(
    type="Observation",
    prefix="vitals",
    permission="infusion.view_infusionrecord",
    category=DataCategory.INFUSION,
    rows=_readings,
    build=_build_vitals,
    patient="record__appointment__patient",
    date="taken_at",
    narrow={"category": _category("vital-signs")},
)

ALDRETE = Source(
    type="Observation",
    prefix="aldrete",
    permission="infusion.view_infusionrecord",
    category=DataCategory.INFUSION,
    rows=_aldrete_records,
    build=_build_aldrete,
    patient="appointment__patient",
    date="discharged_at",
    narrow={"category": _category("exam")},
)
