"""TST-03: the API survives schema-based fuzzing without a 5xx (Schemathesis v4).

Every operation of the document /api/v1/openapi.json serves is called in-process through
Django's WSGI application (schemathesis.openapi.from_dict + the app, as from_wsgi sets it up),
as staff signed in past the second factor who holds every role at North (session cookie and
CSRF token), with a clinic in mid-course behind it: a patient with a booked series, stocked
ketamine. Generated ids that are even integers are swapped for real ones of their kind, so
requests reach real records, not only 404. A fixed example budget per operation keeps the run
short (measured in the README). Each response: no 5xx; its status code, content type and
body as the document says.
"""

import datetime as dt

import pytest
import schemathesis
from django.contrib.auth.models import Group
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.middleware.csrf import get_token
from django.test import RequestFactory
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from schemathesis import checks
from schemathesis.specs.openapi import checks as openapi_checks

from sustain.accounts.enums import Role
from sustain.api import api
from sustain.ledger.models import Container, Location, Product, Supplier
from sustain.scheduling.models import Appointment
from tests.sustain import clinic_builders
from tests.sustain.second_factor import signed_in

pytestmark = pytest.mark.api

EXAMPLES = 15  # per operation (28 operations and each one's unsupported methods)

# The document the API serves at /api/v1/openapi.json (its view returns exactly this; loading
# it by a request needs a staff session, so the database, which collection runs without).
schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api/v1/"))
schema.app = get_wsgi_application()


@pytest.fixture
def clinic(db, north, ada, ben, sam, alex, pat, settings):
    """North in mid-course; alex holds every role there. Yields {id name: a real id}."""
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    # As Django's test client does: a request's start and end would close the test's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    now = dt.datetime.now(dt.UTC)
    course = clinic_builders.ready_for_series(
        pat, prescriber=ada, nurse=ben, now=now, phq9_total=18, gad7_total=12
    )
    clinic_builders.book_series(course, sam, first=now + dt.timedelta(days=1), now=now)
    clinic_builders.stock(north, alex, on=now.date())
    for role in Role:
        alex.groups.add(Group.objects.get(name=role.value))
    yield {
        "patient_id": pat.pk,
        "visit_id": Appointment.objects.filter(patient=pat).order_by("starts_at").first().pk,
        "site": north.pk,
        "container_id": Container.objects.filter(location__site=north).first().pk,
        "location_id": Location.objects.filter(site=north).first().pk,
        "supplier_id": Supplier.objects.first().pk,
        "product_id": Product.objects.first().pk,
        "confirmed_by": ben.pk,
        "witness": ben.pk,
    }
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def staff(clinic, alex):
    """alex's session cookies and CSRF header, signed in past the second factor."""
    client = signed_in(alex)
    token = get_token(RequestFactory().get("/"))
    cookies = {name: morsel.value for name, morsel in client.cookies.items()}
    return cookies | {"csrftoken": token}, {"X-CSRFToken": token}


def _real_ids(values: object, real: dict[str, int]) -> None:
    """Swap even integer ids for real ones of their kind (odd ones stay, mostly missing)."""
    if isinstance(values, dict):
        for key, value in values.items():
            if key in real and type(value) is int and value % 2 == 0:
                values[key] = real[key]
            else:
                _real_ids(value, real)
    elif isinstance(values, list):
        for value in values:
            _real_ids(value, real)


@schema.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_5xx_and_answers_in_the_schema(case, clinic, staff):
    """Each generated request: no 5xx; status code, content type and body as documented."""
    cookies, headers = staff
    for values in (case.path_parameters, case.query, case.body):
        _real_ids(values, clinic)
    case.call_and_validate(
        cookies=cookies,
        headers=headers,
        checks=[
            checks.not_a_server_error,
            openapi_checks.status_code_conformance,
            openapi_checks.content_type_conformance,
            openapi_checks.response_schema_conformance,
        ],
    )
