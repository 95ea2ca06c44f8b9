"""The checks themselves can fail: the schema refuses a wrong resource, the code list an
unlisted code (so a green export test means something)."""

import pytest

from tests.sustain.interop.fhir_checks import schema_errors, unlisted_codes

pytestmark = pytest.mark.db


def test_the_schema_accepts_a_good_observation_and_refuses_broken_ones():
    good = {
        "resourceType": "Observation", "id": "x", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org",
                          "code": "/min"},
    }  # fmt: skip
    assert schema_errors(good) == []
    assert schema_errors({**good, "status": "done"})  # not in the enumeration
    assert schema_errors({**good, "valueQuantity": {"value": "72"}})  # wrong type
    assert schema_errors({**good, "colour": "red"})  # unknown property
    assert schema_errors({"resourceType": "Medication2"})


def test_the_code_list_refuses_an_unlisted_code_and_unit():
    listed = {
        "code": {"coding": [{"system": "http://loinc.org", "code": "44261-6"}]},
        "valueQuantity": {"system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
    }
    assert unlisted_codes(listed) == []
    wrong = {
        "code": {"coding": [{"system": "http://loinc.org", "code": "1234-5"}]},
        "valueQuantity": {"system": "http://unitsofmeasure.org", "code": "furlong"},
    }
    assert unlisted_codes(wrong) == [
        ("http://loinc.org", "1234-5"), ("http://unitsofmeasure.org", "furlong")
    ]  # fmt: skip
    assert unlisted_codes({"system": "urn:sustain:local", "code": "anything"}) == []
