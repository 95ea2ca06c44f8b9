"""The protocol editor as a structured form, with the changes in words before saving, and
plain words on the protocol pages (issue 13, item 7)."""

import html
import json
import re
from html.parser import HTMLParser

import pytest

from sustain.accounts import directors
from sustain.care.models import ClinicProtocol
from sustain_core import protocols

pytestmark = pytest.mark.api

STANDARD = protocols.PROTOCOLS[("depression-induction", 1)]
EDIT = "/protocols/depression-induction/v1/new-version/"


class _FormValues(HTMLParser):
    """What a browser posts for the page's protocol form: every input, checked box, textarea
    and selected option (the submit buttons left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self._in_form = False
        self._textarea: str | None = None
        self._select: str | None = None

    def _add(self, name: str, value: str) -> None:
        self.values.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and "protocol-form" in (a.get("class") or ""):
            self._in_form = True
        if not self._in_form:
            return
        if tag == "input" and a.get("name"):
            if a.get("type") in {"checkbox", "radio"}:
                if "checked" in a:
                    self._add(a["name"], a.get("value") or "on")
            elif a.get("type") != "submit":
                self._add(a["name"], a.get("value") or "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self._add(a["name"], "")
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self._add(self._select, a.get("value") or "")

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea][-1] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif tag == "form":
            self._in_form = False


def form_values(html: str) -> dict[str, list[str]]:
    parser = _FormValues()
    parser.feed(html)
    # A textarea's first newline is not part of its value (HTML): Django writes one.
    return {
        name: [v.removeprefix("\n") if name in parser.values else v for v in values]
        for name, values in parser.values.items()
    }


def unescape(values: dict[str, list[str]]) -> dict[str, list[str]]:
    return {name: [html.unescape(v) for v in vs] for name, vs in values.items()}


def page_values(client, url=EDIT) -> dict[str, list[str]]:
    """The form's values, without its one-time token: each post here is sent as from a fresh
    page (the test client adds a new token, tests/sustain/second_factor.py)."""
    values = unescape(form_values(client.get(url).content.decode()))
    values.pop("form_token", None)
    return values


@pytest.mark.parametrize(("key", "version"), sorted(protocols.PROTOCOLS))
def test_the_form_round_trips_every_library_protocol_unchanged(login, alex, key, version):
    client = login(alex)
    url = f"/protocols/{key}/v{version}/new-version/"
    values = page_values(client, url)
    values["change_note"] = ["No change"]

    response = client.post(url, values)

    assert response.status_code == 200
    assert response.context["changes"] == []
    assert "Nothing has changed" in response.content.decode()
    assert ClinicProtocol.objects.count() == 0


def test_a_change_shows_in_words_and_saves_as_a_new_version(login, north, alex):
    client = login(alex)
    values = page_values(client)
    values["visit.check_in_minutes"] = ["20"]
    values["series.weekdays"] = ["0", "2", "4"]
    values["change_note"] = ["20 minutes to check in, Monday, Wednesday, Friday"]

    preview = client.post(EDIT, values)

    assert preview.status_code == 200
    assert [(c.where, c.was, c.now, c.clinical) for c in preview.context["changes"]] == [
        ("Series › On these days", "none", "Monday, Wednesday, Friday", False),
        ("Series › Check-in (min)", "15", "20", False),
    ]
    html = preview.content.decode()
    assert "Series › Check-in (min)</td><td>15</td><td>20</td>" in html
    assert ClinicProtocol.objects.count() == 0  # shown, not saved

    saved = client.post(EDIT, {**values, "confirm": preview.context["digest"]})

    row = ClinicProtocol.objects.get()
    assert saved.status_code == 302
    assert saved["Location"] == f"/protocols/{row.key}/v1/"
    assert (row.site, row.version, row.created_by, row.change_note) == (
        north, 1, alex, "20 minutes to check in, Monday, Wednesday, Friday"
    )  # fmt: skip
    built = protocols.protocol_from_dict(row.data)
    assert (built.visit.check_in_minutes, built.series.weekdays) == (20, frozenset({0, 2, 4}))
    detail = client.get(saved["Location"])
    assert [c.where for c in detail.context["changes"]] == [
        "Series › On these days", "Series › Check-in (min)"
    ]  # fmt: skip


def test_a_save_of_other_values_than_those_shown_shows_the_changes_again(login, alex):
    client = login(alex)
    values = page_values(client)
    values["visit.check_in_minutes"] = ["20"]
    values["change_note"] = ["20 minutes"]
    preview = client.post(EDIT, values)
    values["visit.check_in_minutes"] = ["25"]

    response = client.post(EDIT, {**values, "confirm": preview.context["digest"]})

    assert response.status_code == 200
    assert [c.now for c in response.context["changes"]] == ["25"]
    assert ClinicProtocol.objects.count() == 0


def test_a_dosing_change_says_a_director_saves_it_and_is_refused_to_others(login, north, alex):
    client = login(alex)
    values = page_values(client)
    values["regimen.infusion_minutes"] = ["45"]
    values["change_note"] = ["45-minute infusions"]

    preview = client.post(EDIT, values)

    assert [(c.where, c.clinical) for c in preview.context["changes"]] == [
        ("Regimen › Infusion time (min)", True)
    ]
    assert preview.context["needs_director"] is True
    refused = client.post(EDIT, {**values, "confirm": preview.context["digest"]})
    assert refused.status_code == 400
    assert "only a medical director of North Clinic publishes" in refused.content.decode()
    assert ClinicProtocol.objects.count() == 0


def test_a_director_saves_a_titration_rule_added_in_the_blank_row(login, north, alex, ada):
    directors.designate_medical_director(site=north, user=ada, designated=True, by=alex)
    client = login(ada)
    values = page_values(client)
    values["titration.1.remove"] = ["on"]  # the dissociation hold goes
    values["change_note"] = ["No dissociation hold"]
    preview = client.post(EDIT, values)
    assert (
        "Regimen › Titration rule 2 › When",
        "Dissociation above the hold level",
        "Blood pressure above the stop level",
    ) in [(c.where, c.was, c.now) for c in preview.context["changes"]]

    client.post(EDIT, {**values, "confirm": preview.context["digest"]})

    built = protocols.protocol_from_dict(ClinicProtocol.objects.get().data)
    assert [rule.trigger for rule in built.titration] == ["no_response", "blood_pressure"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "regimen.mg_per_kg",
            "half",
            "Regimen › Dose per session (mg/kg): Enter a number written with digits and a point, "
            "e.g. 0.5.",
        ),
        ("series.count", "", "Series › Infusions in the induction series: This field is required."),
        (
            "monitoring.aldrete_min",
            "11",
            "Safety › Lowest modified Aldrete score for discharge: “Lowest modified Aldrete score "
            "for discharge” must be a whole number from 0 to 10; got 11",
        ),
        (
            "safety.stop_spo2_below",
            "50",
            "Safety › Stop below SpO₂ (%): “Stop below SpO₂ (%)” must be from 85 to 95 %; got 50",
        ),
        (
            "response_fraction",
            "1e999999",
            "Measurement › Response: a fall from baseline of at least (%): Enter a number written "
            "with digits and a point, e.g. 50.",
        ),
        (
            "measurement_plan.1.from_infusion",
            "0",
            "Measurement › Measure 2 › From infusion: rule pre_infusion: “From infusion” must be 1 "
            "or more",
        ),
    ],
)
def test_an_invalid_value_is_refused_naming_its_field(login, alex, field, value, message):
    client = login(alex)
    values = page_values(client)
    values[field] = [value]
    values["change_note"] = ["try"]

    response = client.post(EDIT, values)

    assert response.status_code == 400
    summary = [f"{where}: {text}" for _, where, text in response.context["form"].error_summary()]
    assert any(line.startswith(message) for line in summary), summary
    assert field in response.context["form"].errors
    assert ClinicProtocol.objects.count() == 0


def test_a_rule_across_fields_is_refused_in_its_section(login, alex):
    client = login(alex)
    values = page_values(client)
    values["titration.0.limit_mg_per_kg"] = ["0.8"]
    values["change_note"] = ["try"]

    response = client.post(EDIT, values)

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "Regimen: a step of 0.25 mg/kg from 0.5 mg/kg passes the maximum 0.8 mg/kg (step 2 "
        "reaches 1.00 mg/kg); the maximum must be the starting dose plus a whole number of steps"
    ]
    assert "Regimen: a step of 0.25 mg/kg" in response.content.decode()


def test_the_json_view_is_kept_for_experts(login, alex):
    client = login(alex)
    page = client.get(EDIT + "?view=json").content.decode()
    assert '<textarea id="data" name="data"' in page
    data = protocols.protocol_to_dict(STANDARD)
    data["visit"]["discharge_minutes"] = 10

    preview = client.post(EDIT, {"data": json.dumps(data), "change_note": "10 min"})
    assert [(c.where, c.was, c.now) for c in preview.context["changes"]] == [
        ("Series › Discharge (min)", "5", "10")
    ]
    client.post(
        EDIT,
        {"data": json.dumps(data), "change_note": "10 min", "confirm": preview.context["digest"]},
    )
    assert ClinicProtocol.objects.get().data["visit"]["discharge_minutes"] == 10


# Keys that used to show on the pages (issue 13): a condition, a protocol's key and version, a
# regimen kind, a titration trigger, a chair capability, a source inside an item.
RAW = (
    "chronic_pain", "crps-schwartzman-2009 v1", "depression-induction v1", "per_hour",
    "no_response", "blood pressure:", "chair with extended", "[Cohen2018-GC]", "[Ketalar-label]",
)  # fmt: skip


def words_on(html_text: str) -> str:
    """What a reader sees: the text outside tags, and not the sources lists' own keys nor what
    the editor's text boxes hold (an item's text, sources and all, is the data being edited)."""
    html_text = re.sub(r"<textarea[^>]*>.*?</textarea>", " ", html_text, flags=re.S)
    shown = re.sub(r"<(ol|div) class=\"[^\"]*sources[^\"]*\">.*?</\1>", " ", html_text, flags=re.S)
    shown = re.sub(
        r"<section class=\"card\">\s*<h2>Sources</h2>.*?</section>", " ", shown, flags=re.S
    )
    shown = re.sub(r"<details><summary>Sources</summary>.*?</details>", " ", shown, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", shown))


@pytest.mark.parametrize(
    "url",
    [
        "/protocols/",
        "/protocols/crps-schwartzman-2009/v1/",
        "/protocols/crps-schwartzman-2009/v1/new-version/",
        "/protocols/depression-induction/v1/",
    ],
)
def test_no_raw_keys_on_the_protocol_pages(login, alex, url):
    text = words_on(login(alex).get(url).content.decode())

    assert [key for key in RAW if key in text] == []


def test_no_raw_keys_on_the_patient_page_nor_the_list_of_versions(login, north, alex, ada, pat):
    client = login(ada)
    enrol = words_on(client.get(f"/patients/{pat.pk}/").content.decode())
    assert (
        "Depression induction: 6 infusions over 2–3 weeks, 0.5 mg/kg over 40 min (version 1)"
        in (enrol)
    )
    client.post(f"/patients/{pat.pk}/enrol/", {"protocol": "depression-induction:1"})
    values = page_values(login(alex))
    values["title"] = ["Depression induction (North)"]
    values["change_note"] = ["Our title"]
    preview = login(alex).post(EDIT, values)
    login(alex).post(EDIT, {**values, "confirm": preview.context["digest"]})

    page = client.get(f"/patients/{pat.pk}/").content.decode()
    listed = words_on(client.get("/protocols/").content.decode())
    row = ClinicProtocol.objects.get()
    detail = words_on(client.get(f"/protocols/{row.key}/v1/").content.decode())

    assert [key for key in RAW if key in words_on(page)] == []
    assert "<legend>Relative: History of psychosis<sup" in page
    assert "Depression induction (North) (clinic version 1)" in listed
    assert row.key not in listed
    assert "a clinic version of Depression induction: 6 infusions" in detail
    assert [key for key in RAW if key in detail] == []


def test_the_protocol_page_footnotes_each_item_to_its_numbered_source(login, ben):
    html_text = login(ben).get("/protocols/depression-induction/v1/").content.decode()
    number = 1 + [c.key for c in STANDARD.citations].index("Sanacora2017-S2")

    assert (
        f'History of psychosis<sup class="source-ref"><a href="#source-{number}" '
        f'aria-label="source {number}: Sanacora2017-S2">{number}</a></sup>'
    ) in html_text
    assert f'<li id="source-{number}"><strong>[Sanacora2017-S2]</strong>' in html_text
    assert (
        "History of psychosis: unconfirmed as the wording of Sanacora2017-S2, clinical-facts §2a"
        in html.unescape(html_text)
    )
