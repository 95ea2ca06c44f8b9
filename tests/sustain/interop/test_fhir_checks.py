"""The checks themselves can fail: the schema refuses a wrong resource, the code list an
unlisted code (so a green export test means something)."""

from pathlib import Path

import pytest

from tests.sustain.interop.fhir_checks import schema_check, schema_errors, unlisted_codes

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


FIXTURES = Path(__file__).parents[3] / "tools" / "fhir" / "fixtures"


def test_the_schema_check_passes_the_good_fixtures_and_refuses_the_broken_ones(capsys):
    """tools/fhir/schema_check.py, the command CI runs over the demo's export (make
    fhir-validate): exit 0 on good resources, 1 with one line per error, 2 on bad usage."""
    assert schema_check.main([str(FIXTURES / "good")]) == 0
    assert "7 resources in 3 files, 0 errors" in capsys.readouterr().out

    assert schema_check.main([str(FIXTURES / "broken")]) == 1
    report = capsys.readouterr().out.splitlines()
    assert report[:3] == [
        "Observation.ndjson:3 Observation/status-done: status: 'done' is not one of "
        "['registered', 'preliminary', 'final', 'amended', 'corrected', 'cancelled', "
        "'entered-in-error', 'unknown']",
        "Observation.ndjson:4 Observation/string-value: valueQuantity/value: '72' is not of type "
        "'number'",
        "record.json:9 Patient/patient-2: (root): Additional properties are not allowed ('colour' "
        "was unexpected)",
    ]
    assert report[-1] == "7 resources in 2 files, 3 errors"


def test_the_schema_check_refuses_bad_usage_and_unreadable_files(tmp_path, capsys):
    assert schema_check.main([]) == 2
    assert schema_check.main([str(tmp_path / "missing")]) == 2
    assert schema_check.main([str(tmp_path)]) == 2  # no *.ndjson or *.json file
    assert "holds no *.ndjson or *.json file" in capsys.readouterr().err
    (tmp_path / "Patient.ndjson").write_text('{"resourceType": "Patient", "id": "a"}\n[1]\n{oops\n')
    (tmp_path / "not-a-bundle.json").write_text('{"resourceType": "Patient"}')
    assert schema_check.main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "Patient.ndjson:2 (unreadable): not a JSON object" in out
    assert "Patient.ndjson:3 (unreadable): not JSON" in out
    assert 'not-a-bundle.json:1 (unreadable): a .json file must hold a Bundle, not "Patient"' in out
    assert out.splitlines()[-1] == "1 resources in 2 files, 3 errors"
