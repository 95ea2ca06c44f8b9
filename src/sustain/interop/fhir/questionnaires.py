"""Questionnaire (each instrument of sustain_core.instruments), QuestionnaireResponse (an
Assessment, item by item) and the score Observation (its total): FHIR R4 §12.1, §12.2 and §4.20
Observation; reference §5.1–5.2 and FHIR-03.

A Questionnaire's canonical URL is "urn:sustain:questionnaire:<instrument code>" and its version
the instrument definition's. Instruments are code, not rows, so (as the protocol library in
plans.py) each of the caller's sites offers them all: id "questionnaire-<site pk>-<code>". Item
wording and answer labels are sent only where the instrument ships them (Item.text: the
licensed or unverified wordings such as the MADRS's are not in Sustain), so those items are
their linkId and integer range alone. `copyright` carries each notice (reference §5.2).

A response's answer is a Coding of the instrument's answer list (local system) where the
Questionnaire offers labelled options, else the integer given. The score Observation (FHIR-03):
LOINC 44261-6 PHQ-9, 70274-6 GAD-7, 101698-9 PCL-5, 72514-3 pain (0–10); every other
instrument a local urn:sustain code, never an invented LOINC; category survey; valueInteger for
a whole-number total (a mean or FIQR total: valueQuantity without a unit); derivedFrom its
QuestionnaireResponse. Body weight (care.WeightMeasurement) is the R4 bodyweight vital sign
(29463-7, kg); it is read with care.view_assessment, the clinical roles' permission (no role
holds a weight view permission of its own, and the front desk reads no Observation)."""

from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet

from sustain.accounts.enums import DataCategory
from sustain.accounts.models import Site
from sustain.care.enums import AssessmentSource
from sustain.care.models import Assessment, WeightMeasurement
from sustain.interop.fhir import codes, tokens
from sustain.interop.fhir.registry import Json, Source, model_json
from sustain_core import instruments
from sustain_core.instruments import Instrument, Item

MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
SCORE_SYSTEM = "urn:sustain:instrument-score"

# The notices the instruments' owners ask for (reference §5.2).
COPYRIGHT = {
    "phq9": (
        "PHQ-9: Patient Health Questionnaire, developed by Drs Robert L. Spitzer, Janet B.W. "
        "Williams, Kurt Kroenke and colleagues with an educational grant from Pfizer Inc. "
        "Copyright Pfizer Inc. No permission is required to reproduce, translate, display or "
        "distribute."
    ),
    "gad7": (
        "GAD-7, developed by Drs Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and "
        "colleagues with an educational grant from Pfizer Inc. Copyright Pfizer Inc. No "
        "permission is required to reproduce, translate, display or distribute."
    ),
    "pcl5": (
        "PCL-5: PTSD Checklist for DSM-5, Weathers, Litz, Keane, Palmieri, Marx and Schnurr "
        "(2013), National Center for PTSD, US Department of Veterans Affairs; public domain."
    ),
}

# The scores with a LOINC code (codes.toml names); the others are local codes.
SCORE_CODES = {
    "phq9": "phq9-total",
    "gad7": "gad7-total",
    "pcl5": "pcl5-total",
    "pain_nrs": "pain-nrs",
}


def questionnaire_url(code: str) -> str:
    return f"urn:sustain:questionnaire:{code}"


def answer_system(code: str) -> str:
    return f"urn:sustain:questionnaire:{code}:answers"


def _fhir_part(code: str) -> str:
    return code.replace("_", "-")  # FHIR ids: [A-Za-z0-9-.]


def _labelled(item: Item) -> bool:
    """The item is offered as labelled options (its wording and every label are shipped)."""
    return item.text is not None and len(item.answer_labels) == item.max_value - item.min_value + 1


def _item(instrument: Instrument, item: Item) -> Json:
    found: Json = {"linkId": item.key, "required": False}
    if item.text is not None:
        found["text"] = item.text
    if _labelled(item):
        found["type"] = "choice"
        found["answerOption"] = [
            {
                "valueCoding": {
                    "system": answer_system(instrument.code),
                    "code": str(value),
                    "display": label,
                }
            }
            for value, label in enumerate(item.answer_labels, start=item.min_value)
        ]
    else:
        found["type"] = "integer"
        found["extension"] = [
            {"url": MIN_VALUE, "valueInteger": item.min_value},
            {"url": MAX_VALUE, "valueInteger": item.max_value},
        ]
    return found


def questionnaire(instrument: Instrument, site_pk: int) -> Json:
    copyright_ = COPYRIGHT.get(instrument.code) or (
        f"{instrument.licence}. Items are sent by code"
        + (
            " only, without their wording."
            if all(i.text is None for i in instrument.items)
            else "."
        )
    )
    resource: Json = {
        "resourceType": "Questionnaire",
        "id": f"questionnaire-{site_pk}-{_fhir_part(instrument.code)}",
        "url": questionnaire_url(instrument.code),
        "version": instrument.version,
        "title": instrument.title,
        "status": "active",
        "subjectType": ["Patient"],
        "description": f"{instrument.short_title}; recall: {instrument.recall}",
        "copyright": copyright_,
        "item": [_item(instrument, item) for item in instrument.items],
    }
    return model_json("Questionnaire", resource)


def _sites(site_ids: frozenset[int]) -> QuerySet[Site]:
    return Site.objects.filter(pk__in=site_ids).order_by("pk")


QUESTIONNAIRES = Source(
    type="Questionnaire",
    prefix="questionnaire",
    permission=None,
    category=DataCategory.QUESTIONNAIRE,
    rows=_sites,
    build=lambda site: [questionnaire(i, site.pk) for i in instruments.INSTRUMENTS.values()],
)

# -- QuestionnaireResponse and the score ----------------------------------------------------


def _assessments(site_ids: frozenset[int]) -> QuerySet[Assessment]:
    return (
        Assessment.objects.filter(patient__site__in=site_ids)
        .prefetch_related("answers")
        .order_by("pk")
    )


def _author(assessment: Assessment) -> Json:
    if assessment.source == AssessmentSource.SELF_REPORT or assessment.recorded_by_id is None:
        return {"reference": f"Patient/patient-{assessment.patient_id}"}
    return {"reference": f"Practitioner/practitioner-{assessment.recorded_by_id}"}


def response(assessment: Assessment) -> Json:
    instrument = instruments.get_instrument(assessment.instrument)
    given = {answer.item: answer.value for answer in assessment.answers.all()}
    items: list[Json] = []
    for item in instrument.items:
        if item.key not in given:
            continue  # skipped by the instrument's rules: no answer row
        value = given[item.key]
        answer: Json
        if _labelled(item) and item.min_value <= value <= item.max_value:
            label = item.answer_labels[value - item.min_value]
            answer = {
                "valueCoding": {
                    "system": answer_system(instrument.code),
                    "code": str(value),
                    "display": label,
                }
            }
        else:
            answer = {"valueInteger": value}
        found: Json = {"linkId": item.key, "answer": [answer]}
        if item.text is not None:
            found["text"] = item.text
        items.append(found)
    resource: Json = {
        "resourceType": "QuestionnaireResponse",
        "id": f"response-{assessment.pk}",
        "questionnaire": f"{questionnaire_url(instrument.code)}|{instrument.version}",
        "status": "completed",
        "subject": {"reference": f"Patient/patient-{assessment.patient_id}"},
        "authored": assessment.completed_at.isoformat(),
        "author": _author(assessment),
    }
    if instrument.rater == instruments.Rater.SELF:  # the patient answered (source: who answered)
        resource["source"] = {"reference": f"Patient/patient-{assessment.patient_id}"}
    if items:
        resource["item"] = items
    return model_json("QuestionnaireResponse", resource)


def score_code(instrument: Instrument) -> Json:
    if instrument.code in SCORE_CODES:
        return codes.concept(SCORE_CODES[instrument.code], text=f"{instrument.short_title} total")
    return {
        "coding": [
            {
                "system": SCORE_SYSTEM,
                "code": instrument.code,
                "display": f"{instrument.short_title} total score",
            }
        ],
        "text": f"{instrument.short_title} total",
    }


def score(assessment: Assessment) -> Json:
    instrument = instruments.get_instrument(assessment.instrument)
    total = Decimal(assessment.total_score)
    value: dict[str, Any]
    if total == total.to_integral_value():
        value = {"valueInteger": int(total)}
    else:
        value = {"valueQuantity": {"value": float(total)}}
    resource: Json = {
        "resourceType": "Observation",
        "id": f"score-{assessment.pk}",
        "status": "final",
        "category": [codes.concept("category-survey")],
        "code": score_code(instrument),
        "subject": {"reference": f"Patient/patient-{assessment.patient_id}"},
        "effectiveDateTime": assessment.completed_at.isoformat(),
        "performer": [_author(assessment)],
        "derivedFrom": [{"reference": f"QuestionnaireResponse/response-{assessment.pk}"}],
        **value,
    }
    if assessment.severity:
        resource["interpretation"] = [{"text": assessment.severity}]
    return model_json("Observation", resource)


def _by_instrument() -> dict[str, list[dict[str, str]]]:
    return {code: score_code(i)["coding"] for code, i in instruments.INSTRUMENTS.items()}


def _score_code(value: str) -> Q:
    return Q(instrument__in=tokens.keys_matching(value, _by_instrument()))


def _final(value: str) -> Q:
    return Q() if "final" in value.split(",") else Q(pk__in=[])


def _completed(value: str) -> Q:
    return Q() if "completed" in value.split(",") else Q(pk__in=[])


QUESTIONNAIRE_RESPONSES = Source(
    type="QuestionnaireResponse",
    prefix="response",
    permission="care.view_assessment",
    category=DataCategory.QUESTIONNAIRE,
    rows=_assessments,
    build=lambda assessment: [response(assessment)],
    patient="patient",
    date="completed_at",
    narrow={"status": _completed},
)

SCORES = Source(
    type="Observation",
    prefix="score",
    permission="care.view_assessment",
    category=DataCategory.QUESTIONNAIRE,
    rows=lambda site_ids: Assessment.objects.filter(patient__site__in=site_ids).order_by("pk"),
    build=lambda assessment: [score(assessment)],
    patient="patient",
    date="completed_at",
    narrow={"code": _score_code, "status": _final},
)

# -- body weight ----------------------------------------------------------------------------


def weight(row: WeightMeasurement) -> Json:
    resource: Json = {
        "resourceType": "Observation",
        "id": f"weight-{row.pk}",
        "status": "final",
        "category": [codes.concept("category-vital-signs")],
        "code": codes.concept("body-weight", text="Body weight"),
        "subject": {"reference": f"Patient/patient-{row.patient_id}"},
        "effectiveDateTime": row.measured_on.isoformat(),
        "issued": row.recorded_at.isoformat(),
        "performer": [{"reference": f"Practitioner/practitioner-{row.recorded_by_id}"}],
        "valueQuantity": codes.quantity(float(row.weight_kg), "kg"),
    }
    return model_json("Observation", resource)


def _weight_code(value: str) -> Q:
    listed = [codes.coding("body-weight")]
    return Q() if tokens.keys_matching(value, {"w": listed}) else Q(pk__in=[])


WEIGHTS = Source(
    type="Observation",
    prefix="weight",
    permission="care.view_assessment",
    category=DataCategory.PATIENT_RECORD,
    rows=lambda site_ids: WeightMeasurement.objects.filter(patient__site__in=site_ids).order_by(
        "pk"
    ),
    build=lambda row: [weight(row)],
    patient="patient",
    date="measured_on",
    narrow={"code": _weight_code, "status": _final},
)
