"""Every staff form and page fuzzed: no input gives a 500 or a traceback (TST-03, SEC-19).

The forms are found, not listed: every page of the role table (test_role_pages, one clinic in
mid-course) is opened as each role that may open it, and each ``<form method="post">`` it
shows is kept with the role, its action and its fields as rendered (names, input types,
options, the hidden values). Hypothesis then posts generated values to each: extreme and
impossible dates, huge, negative and 30-digit numbers, long, unicode and NUL text, fields
missing and of the wrong type. Every GET page is opened with extreme date and number query
parameters too. The answer must be a page or a refusal (2xx, 3xx, 4xx), never a 5xx.

A new URL that takes a POST and has no form on any page fails
``test_every_post_url_is_fuzzed``, until a page shows it or it is listed below with a reason.
The budget (examples per form) is small so the whole module stays well under a minute per
database; SUSTAIN_FUZZ_EXAMPLES raises it for a longer hunt.
"""

import datetime as dt
import html
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import pytest
import time_machine
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sustain.accounts import form_tokens, users
from sustain.scheduling import calendar, hours
from sustain.scheduling.models import Appointment
from tests.sustain import clinic_builders as build
from tests.sustain.second_factor import signed_in
from tests.sustain.test_role_pages import (  # noqa: F401 - clinic: the fixture, shared
    ACTIONS,
    NOW,
    OK,
    PAGES,
    PATIENTS_PAGES,
    PROVIDER_CALLBACKS,
    ROLES,
    SIGN_IN_STEPS,
    STATUS,
    Clinic,
    clinic,
    url_names,
)

pytestmark = pytest.mark.api

EXAMPLES = int(os.environ.get("SUSTAIN_FUZZ_EXAMPLES", "6"))
STAFF_ROLES = ROLES[:-2]  # prescriber, nurse, scheduler, clinic_admin (the auditor only reads)

# URLs outside this fuzzer, and why: the API has its own (schemathesis, TST-03); the patient's
# pages, the sign-in steps and the SMS provider's callback take no staff session; signing out
# has no fields; the FHIR token endpoint takes a system's credentials, not a staff session
# (tests/sustain/interop/test_clients.py sends it bad input); a FHIR search sent as a form is
# the API's (tests/sustain/interop/test_fhir_api.py).
ELSEWHERE = (
    PATIENTS_PAGES
    | SIGN_IN_STEPS
    | PROVIDER_CALLBACKS
    | {"accounts:logout", ":fhir-token", "interop:fhir_search_post"}
)
# Actions whose form this clinic's pages do not show (a dose waiting for its co-signature, a
# titration proposal, a booster due, a visit's change request, a theft or loss report, an
# infusion under way): posted
# to with the fields their templates name.
UNSHOWN = {
    # shown only for a patient whose indication is not yet assessed (an imported one)
    "care:indication": ("prescriber", "/patients/{rae}/indication/", ("primary_condition",)),
    "infusion:adverse_event": (
        "nurse", "/visits/{visit}/adverse-events/",
        ("kind", "severity", "serious", "description", "action_taken"),
    ),
    "care:dose_cosign": ("prescriber", "/patients/{rae}/dose/cosign/", ()),
    "care:dose_withdraw": ("prescriber", "/patients/{rae}/dose/withdraw/", ("reason",)),
    "infusion:titrate": ("prescriber", "/patients/{rae}/titrate/", ()),
    "scheduling:booster_book": (
        "scheduler", "/patients/{rae}/boosters/1/book/", ("chair", "day", "start_time")
    ),
    "scheduling:visit_keep_time": ("scheduler", "/visits/{visit}/keep-time/", ("next",)),
    "ledger:theft_loss_file": (
        "clinic_admin", "/ledger/theft-loss/1/notice/", ("at", "reference", "confirm")
    ),
    # a dead-lettered message, a locked-out account, an emergency access and its review
    "accounts:send_again": ("clinic_admin", "/accounts/outbox/1/send-again/", ()),
    "accounts:staff_unlock": ("clinic_admin", "/accounts/staff/1/unlock/", ()),
    "care:emergency_end": ("nurse", "/emergency-access/end/", ()),
    "care:emergency_review_close": (
        "clinic_admin", "/emergency-access/reviews/1/", ("outcome", "note")
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # an input's type, "select", "textarea"
    value: str  # as rendered
    options: tuple[str, ...] = ()


@dataclass
class Form:
    name: str  # the action's URL name
    path: str
    role: str
    fields: list[Field] = field(default_factory=list)


class _Forms(HTMLParser):
    """The forms of a page: method, action and fields, as a browser would send them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, str, list[Field]]] = []
        self._select: list | None = None
        self._select_name = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("method", "get").lower(), a.get("action", ""), []))
        elif not self.forms or ("name" not in a and tag not in ("option", "button")):
            return
        elif tag == "button" and "formaction" in a:  # a second action for the same fields
            method, _, fields = self.forms[-1]
            self.forms.append((method, a["formaction"], fields))
        elif tag in ("input", "button") and "name" in a:
            kind = a.get("type", "text" if tag == "input" else "submit").lower()
            self.forms[-1][2].append(Field(a["name"], kind, a.get("value", "")))
        elif tag == "textarea":
            self.forms[-1][2].append(Field(a["name"], "textarea", ""))
        elif tag == "select":
            self._select, self._select_name = [], a["name"]
        elif tag == "option" and self._select is not None:
            self._select.append(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None and self.forms:
            options = tuple(self._select)
            self.forms[-1][2].append(
                Field(self._select_name, "select", options[0] if options else "", options)
            )
            self._select = None


def _url_name(path: str) -> str | None:
    try:
        match = resolve(urlsplit(path).path)
    except Resolver404:
        return None
    return f"{match.namespace}:{match.url_name}"


@dataclass
class Harvest:
    posts: dict[str, list[Form]]  # by URL name: each distinct form (by its fields), ≤ 3
    gets: list[tuple[str, str, set[str]]]  # (role, page path, query parameter names)


def _state(clinic: Clinic) -> dict[str, str]:  # noqa: F811
    """What shows the remaining forms: a deactivated account, a closure, a patient's calendar
    link, a registered patient not yet enrolled; the pages they show on, by role."""
    admin = clinic.users["clinic_admin"]
    site = clinic.visit.site
    nora = clinic.users["no role"]
    users.deactivate_user(user=nora, by=admin)
    hours.add_closures(
        site=site, first=dt.date(2026, 12, 24), last=None, reason="Holiday", by=admin, now=NOW
    )
    calendar.create_feed(patient=clinic.pat, by=admin, now=NOW)
    una = build.register(site, clinic.users["scheduler"], "Una", "Unenrolled", on=NOW.date())
    second = Appointment.objects.get(course=clinic.visit.course, number=2)
    return {
        f"/accounts/staff/{nora.pk}/": "clinic_admin",
        f"/patients/{una.pk}/": "prescriber",
        f"/patients/{clinic.wes.pk}/": "prescriber",
        f"/patients/{clinic.rae.pk}/": "prescriber",
        f"/visits/{second.pk}/infusion/": "nurse",
        f"/visits/{second.pk}/cancel/": "scheduler",
    }


@pytest.fixture(scope="module")
def harvest(clinic: Clinic, django_db_blocker) -> Iterator[Harvest]:  # noqa: F811
    """The forms and query parameters of every HTML page, as each role that may open it."""
    pages: list[tuple[str, str]] = [
        (page.url(clinic), role)
        for name, page in PAGES.items()
        if not page.name.startswith("api:") and not urlsplit(page.path).path.endswith(".pdf")
        for role in (*STAFF_ROLES, "auditor")
        if STATUS[name][ROLES.index(role)] == OK
    ]
    posts: dict[str, list[Form]] = {}
    gets: list[tuple[str, str, set[str]]] = []
    with django_db_blocker.unblock(), time_machine.travel(NOW, tick=False):
        pages += list(_state(clinic).items())
        clients = {role: signed_in(clinic.users[role]) for role in (*STAFF_ROLES, "auditor")}
        for path, role in pages:
            response = clients[role].get(path)
            params = {k for k, _ in parse_qsl(urlsplit(path).query)}
            if "html" in response.get("Content-Type", ""):
                parser = _Forms()
                parser.feed(response.content.decode())
                for method, action, fields in parser.forms:
                    if method == "get":
                        params |= {f.name for f in fields if f.kind != "submit"}
                    else:
                        target = urljoin(path, action.replace("&amp;", "&"))
                        # Each post gets a fresh one-time token from signed_in (the page's own
                        # is spent by the first post), so the values reach the form.
                        kept = [f for f in fields if f.name != form_tokens.FIELD]
                        _keep(posts, Form("", target, role, kept))
            gets.append((role, path, params))
        for name, (role, path, names) in UNSHOWN.items():
            fields = [
                Field("csrfmiddlewaretoken", "hidden", ""),
                *(Field(n, "text", "") for n in names),
            ]
            posts.setdefault(name, [Form(name, _fill(path, clinic), role, fields)])
    yield Harvest(posts, gets)


def _keep(posts: dict[str, list[Form]], form: Form) -> None:
    """Keep ``form`` under its action's URL name, unless one with the same fields is kept (at
    most three: one action, several forms such as each part of the clinic rules)."""
    name = _url_name(form.path)
    if name is None:
        return
    form.name = name
    known = posts.setdefault(name, [])
    shape = {f.name for f in form.fields}
    if len(known) < 3 and all({f.name for f in k.fields} != shape for k in known):
        known.append(form)


def _fill(path: str, clinic: Clinic) -> str:  # noqa: F811
    return path.format(rae=clinic.rae.pk, visit=clinic.visit.pk)


def staff_urls() -> set[str]:
    """The URL names of the staff pages and actions (not the API's, not the patient's)."""
    return {n for n in url_names() if not n.startswith("api:")} - ELSEWHERE


# The pages that take a POST (their own form); test_every_post_url_is_fuzzed keeps this true.
POST_PAGES = {
    "accounts:staff_deactivate", "care:emergency_access", "care:patient_create",
    "care:patient_edit", "care:patient_list", "care:protocol_edit", "clinic:assessment_create",
    "clinic:review", "infusion:step",
    "ledger:count_new", "ledger:inventory_new", "ledger:theft_loss_new",
    "scheduling:patient_calendar", "scheduling:site_details", "scheduling:series",
    "scheduling:visit_cancel", "fhir_clients:list",
}  # fmt: skip
FUZZED = sorted((staff_urls() & ACTIONS) | POST_PAGES)


# -- values --------------------------------------------------------------------------------

DATES = ["9999-12-31", "0001-01-01", "1899-12-31", "2200-01-01", "2026-02-30", "2026-13-01",
         "31/12/2026", "", "not a date", "2026-12-01", "2026-12-07", "2027-01-04"]  # fmt: skip
NUMBERS = ["1" * 30, "-" + "9" * 30, "-1", "0", "99999", "2147483648", "9223372036854775808",
           "1e309", "NaN", "Infinity", "-0", "0.0000001", "1" * 20 + ".5", "12.345678", "",
           "seven"]  # fmt: skip
TEXTS = ["x" * 5000, "\x00", "a\x00b", "é" * 300, "😀" * 100, "<script>alert(1)</script>",
         "' OR 1=1 --", "   ", "{}", "[]", '{"a": ' + "1" * 30 + "}"]  # fmt: skip
TIMES = ["25:61", "00:00", "23:59", "-1:00", "9" * 30, ""]
ANY = DATES + NUMBERS + TEXTS + TIMES


def _values(f: Field) -> st.SearchStrategy[str | None]:
    """What goes in a field: its own kind of extreme, sometimes any other kind, or nothing."""
    kind = {
        "date": st.sampled_from(DATES),
        "datetime-local": st.sampled_from(["9999-12-31T23:59", "0001-01-01T00:00", *DATES]),
        "time": st.sampled_from(TIMES),
        "number": st.one_of(st.sampled_from(NUMBERS), st.integers(-(10**35), 10**35).map(str)),
        "select": st.sampled_from([*f.options, "999999999", "-1", "1" * 30]),
        "checkbox": st.sampled_from([f.value or "on", ""]),
        "radio": st.sampled_from([f.value, "x" * 300]),
        "hidden": st.sampled_from([f.value] * 4 + ["1" * 30, "-1", "", "x" * 300]),
        "submit": st.just(f.value),
    }.get(f.kind, st.one_of(st.sampled_from(TEXTS), st.text(max_size=300)))
    return st.one_of(kind, kind, kind, st.sampled_from(ANY), st.none())


@st.composite
def form_data(draw: st.DrawFn, form: Form) -> dict[str, str]:
    data: dict[str, str] = {}
    for f in form.fields:
        value = draw(_values(f))
        if value is not None:
            data[f.name] = value
    return data


PLAUSIBLE = {"date": "2026-12-07", "datetime-local": "2026-12-01T09:30", "time": "09:00",
             "number": "1", "email": "pat@example.org"}  # fmt: skip
EXTREMES = {"date": ("9999-12-31", "0001-01-01"), "datetime-local": ("9999-12-31T23:59",),
            "time": ("24:00",), "number": ("1" * 30, "-" + "9" * 30, "1e400"),
            "text": ("x" * 5000, "a\x00b"), "textarea": ("x" * 50000,),
            "email": ("x" * 300 + "@example.org",)}  # fmt: skip
MOST_FIELDS = 3  # a form's first fields of each kind, taken one at a time


def one_extreme_at_a_time(form: Form) -> Iterator[dict[str, str]]:
    """The form filled plausibly (as rendered, an empty field given a value of its kind), then
    each of its date, number and text fields in turn set to each extreme of its kind, so one
    value, not a dozen, decides what the page answers."""
    plain: dict[str, str] = {}
    for f in form.fields:
        if (f.kind in ("checkbox", "radio") and f.name in plain) or f.kind == "submit":
            continue
        value = f.value or next((o for o in f.options if o), "") or PLAUSIBLE.get(f.kind, "x")
        plain[f.name] = value if f.kind != "password" else "not-used-in-tests"
    for kind, extremes in EXTREMES.items():
        for f in [f for f in form.fields if f.kind == kind][:MOST_FIELDS]:
            for value in extremes:
                yield plain | {f.name: value}


def _check(response, what: str) -> None:
    body = response.content.decode(errors="replace")
    assert response.status_code < 500, f"{what}: {response.status_code}"
    assert "Traceback" not in body, what


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# -- tests ---------------------------------------------------------------------------------


def test_every_post_url_is_fuzzed(db, clinic, harvest):  # noqa: F811
    """Every action and every page taking a POST has a form to fuzz; every other staff page
    refuses a POST (405) for every role that may open it."""
    assert sorted(set(FUZZED) - set(harvest.posts)) == []
    takes_post = set()
    with time_machine.travel(NOW, tick=False):
        clients = [signed_in(clinic.users[role]) for role in (*STAFF_ROLES, "auditor")]
        for name in sorted(staff_urls() - ACTIONS - POST_PAGES):
            path = re.sub(r"<[^>]+>", "1", url_names()[name])
            if {c.post(path).status_code for c in clients} - {403, 404, 405}:
                takes_post.add(name)
    assert sorted(takes_post) == []


@pytest.mark.parametrize("name", FUZZED)
def test_form_survives_any_input(db, clinic, harvest, name):  # noqa: F811
    forms = harvest.posts[name]
    statuses: list[int] = []
    with time_machine.travel(NOW, tick=False):
        clients = {f.role: signed_in(clinic.users[f.role]) for f in forms}

    @FUZZ
    @given(st.data())
    def post(data: st.DataObject) -> None:
        form = data.draw(st.sampled_from(forms))
        values = data.draw(form_data(form))
        with time_machine.travel(NOW, tick=False):
            response = clients[form.role].post(form.path, values)
        statuses.append(response.status_code)
        _check(response, f"POST {form.path} as {form.role} with {values!r}")

    post()
    with time_machine.travel(NOW, tick=False):
        for form in forms:
            for values in one_extreme_at_a_time(form):
                response = clients[form.role].post(form.path, values)
                statuses.append(response.status_code)
                _check(response, f"POST {form.path} as {form.role} with {values!r}")
    # the role was allowed: the fuzz reached the form, not just the access check
    assert set(statuses) - {403, 405}, statuses


QUERY_VALUES = ["9999-12-31", "0001-01-01", "1" * 30, "-1", "x"]
QUERY_NAMES = {"day", "week", "first_day", "start", "end", "taken_on", "page", "site", "location",
               "product", "supplier", "time_of_day", "q", "visit", "instrument", "fragment",
               "earliest", "empty"}  # fmt: skip


def test_pages_survive_extreme_query_parameters(db, clinic, harvest):  # noqa: F811
    """Each page (as the first role that may open it, PDFs aside) with each of its own query
    parameters set to each extreme in turn, the others as linked; then with every usual
    parameter of the other pages set to a far date, and to a 30-digit number, at once."""
    seen: set[str] = set()
    with time_machine.travel(NOW, tick=False):
        clients = {role: signed_in(clinic.users[role]) for role in (*STAFF_ROLES, "auditor")}
        for role, path, params in harvest.gets:
            page, base = urlsplit(path).path, dict(parse_qsl(urlsplit(path).query))
            if page in seen:
                continue
            seen.add(page)
            queries = [base | {p: v} for p in sorted(params) for v in QUERY_VALUES]
            queries += [base | dict.fromkeys(QUERY_NAMES - params, v) for v in QUERY_VALUES[::2]]
            for query in queries:
                response = clients[role].get(f"{page}?{urlencode(query)}")
                _check(response, f"GET {page}?{urlencode(query)} as {role}")


def _numbers(data: object, path: tuple = ()) -> Iterator[tuple]:
    """The paths to every number in a JSON value."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _numbers(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _numbers(value, (*path, i))
    elif isinstance(data, int | float) and not isinstance(data, bool):
        yield path


@pytest.mark.parametrize("number", ["1" * 30, "-" + "9" * 30, "1e400", "NaN", "0." + "1" * 30])
def test_protocol_json_refuses_huge_numbers_in_words(db, clinic, number):  # noqa: F811
    """The protocol editor's JSON view (for experts): a 30-digit number, 1e400 or NaN in
    place of each of the protocol's first numbers is refused with a message, not a 500."""
    path = "/protocols/depression-induction/v1/new-version/"
    with time_machine.travel(NOW, tick=False):
        client = signed_in(clinic.users["prescriber"])
        page = client.get(f"{path}?view=json").content.decode()
        text = html.unescape(re.search(r'<textarea id="data"[^>]*>(.*?)</textarea>', page, re.S)[1])
        protocol = json.loads(text)
        paths = list(_numbers(protocol))[:8]
        assert paths, "the protocol has numbers"
        for where in paths:
            edited = json.loads(text)
            holder = edited
            for key in where[:-1]:
                holder = holder[key]
            holder[where[-1]] = "@@"
            body = json.dumps(edited).replace('"@@"', number)
            response = client.post(path, {"view": "json", "data": body})
            _check(response, f"{where} = {number}")
            assert response.status_code == 400, where
            assert "at most 9 digits" in response.content.decode() or "NaN is not" in (
                response.content.decode()
            ), where


def test_a_move_with_a_long_override_reason_is_refused_in_words(db, clinic):  # noqa: F811
    """Found by the fuzzer's reading: the reason was passed from request.POST to the
    300-character column unchecked (a DataError on PostgreSQL); now the form refuses it."""
    second = Appointment.objects.get(course=clinic.visit.course, number=2)
    day = second.starts_at.astimezone(second.site.tz).date()
    with time_machine.travel(NOW, tick=False):
        response = signed_in(clinic.users["prescriber"]).post(
            f"/visits/{second.pk}/move/",
            {"chair": second.chair_id, "day": day, "start_time": "09:00",
             "override_reason": "x" * 301},
            follow=True,
        )  # fmt: skip
    shown = [str(m) for m in response.context["messages"]]
    assert any("at most 300 characters" in m for m in shown), shown
    assert Appointment.objects.get(pk=second.pk).starts_at == second.starts_at
