"""The staff accounts pages, the set-password link end to end, the landing page of each role
and the 403 page inside the layout (issue 13, item 2)."""

import re
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sustain.accounts.models import AuditEvent, Membership, OutboxMessage, User
from tests.sustain.conftest import make_user
from tests.sustain.second_factor import code_for, enrolled

pytestmark = pytest.mark.api

PASSWORD = "a long enough passphrase"  # noqa: S105 - a test account's


def link_in(message: OutboxMessage) -> str:
    (path,) = re.findall(r"http://127\.0\.0\.1:8000(/accounts/set-password/\S+/)", message.body)
    return path


def test_the_staff_page_lists_the_sites_staff(login, alex, ada, ben, carl):
    ben.is_active = False
    ben.save(update_fields=["is_active"])
    response = login(alex).get("/accounts/staff/")
    html = response.content.decode()
    rows = {a.username: factor for a, factor in response.context["accounts"]}
    assert response.status_code == 200
    assert rows["alex"].startswith("enrolled ")  # the login fixture enrols
    assert rows["ada"] == rows["ben"] == "not enrolled: they enrol at their next sign-in"
    assert "deactivated" in html and "Infusion nurse" in html
    assert "carl" not in html  # South's staff
    assert AuditEvent.objects.filter(actor=alex, category="staff", action="read").exists()


@pytest.mark.parametrize("user", ["ada", "ben", "sam", "ivy"])
def test_other_roles_get_a_403_inside_the_layout(request, login, north, user):
    client = login(request.getfixturevalue(user))
    for path in ("/accounts/staff/", "/schedule/site/"):
        response = client.get(path)
        html = response.content.decode()
        assert response.status_code == 403
        assert "Sign out" in html and 'aria-label="Main"' in html and "Not allowed" in html


def test_another_sites_account_is_not_found(login, alex, carl):
    client = login(alex)
    assert client.get(f"/accounts/staff/{carl.pk}/").status_code == 404
    assert client.post(f"/accounts/staff/{carl.pk}/deactivate/").status_code == 404
    carl.refresh_from_db()
    assert carl.is_active


def test_invite_then_the_link_sets_a_password_once(login, alex, north):
    response = login(alex).post(
        "/accounts/staff/invite/",
        {
            "username": "dana", "first_name": "Dana", "last_name": "Reyes",
            "email": "dana@clinic.example", "roles": ["nurse"], "site": north.pk,
        },
    )  # fmt: skip
    assert (response.status_code, response["Location"]) == (
        302,
        f"/accounts/staff/?site={north.pk}",
    )
    link = link_in(OutboxMessage.objects.get(to="dana@clinic.example"))
    visitor = Client()
    form = visitor.get(link, follow=True)  # Django moves the token out of the URL
    assert "Choose your password" in form.content.decode()
    done = visitor.post(
        form.redirect_chain[-1][0], {"new_password1": PASSWORD, "new_password2": PASSWORD}
    )
    assert (done.status_code, done["Location"]) == (302, "/accounts/set-password/done/")
    signed_in = Client()
    after = signed_in.post("/accounts/login/", {"username": "dana", "password": PASSWORD})
    assert (after.status_code, after["Location"]) == (302, "/schedule/")  # a nurse's landing
    again = Client().get(link, follow=True).content.decode()
    assert "This link no longer works" in again


def test_a_refused_invitation_is_shown_on_the_form(login, alex, ada, north):
    response = login(alex).post(
        "/accounts/staff/invite/",
        {
            "username": "ada", "first_name": "A", "last_name": "B", "email": "x@clinic.example",
            "roles": ["nurse"], "site": north.pk,
        },
    )  # fmt: skip
    assert response.status_code == 400
    assert "The username ada is taken" in response.content.decode()
    assert User.objects.filter(username="ada").count() == 1


def test_deactivate_asks_first_then_deactivates(login, alex, ben):
    client = login(alex)
    confirm = client.get(f"/accounts/staff/{ben.pk}/deactivate/")
    assert confirm.status_code == 200
    assert "will no longer be able to sign in" in confirm.content.decode()
    ben.refresh_from_db()
    assert ben.is_active  # the question changes nothing
    done = client.post(f"/accounts/staff/{ben.pk}/deactivate/", follow=True)
    ben.refresh_from_db()
    assert not ben.is_active
    assert "is deactivated and can no longer sign in" in done.content.decode()
    client.post(f"/accounts/staff/{ben.pk}/reactivate/")
    ben.refresh_from_db()
    assert ben.is_active


def test_self_deactivation_is_refused_with_the_reason(login, alex, north):
    make_user("alma", "clinic_admin", north)
    response = login(alex).post(f"/accounts/staff/{alex.pk}/deactivate/", follow=True)
    assert "You cannot deactivate your own account" in response.content.decode()
    alex.refresh_from_db()
    assert alex.is_active


def test_roles_from_the_page_and_self_escalation_refused(login, alex, ben):
    client = login(alex)
    response = client.post(f"/accounts/staff/{ben.pk}/roles/", {"roles": ["nurse", "scheduler"]})
    assert response.status_code == 302
    assert User.objects.get(pk=ben.pk).roles == ["nurse", "scheduler"]
    refused = client.post(
        f"/accounts/staff/{alex.pk}/roles/", {"roles": ["clinic_admin", "prescriber"]}
    )
    assert refused.status_code == 400
    assert "You cannot give yourself a role (prescriber)" in refused.content.decode()


def test_reset_from_the_page_sends_a_link(login, alex, ben):
    login(alex).post(f"/accounts/staff/{ben.pk}/reset-password/")
    ben.refresh_from_db()
    assert not ben.has_usable_password()
    assert link_in(OutboxMessage.objects.get(to="ben@example.org"))


@pytest.mark.parametrize(
    ("user", "landing"),
    [
        ("ada", "/"),
        ("ben", "/schedule/"),
        ("sam", "/"),
        ("alex", "/schedule/"),
        ("ivy", "/accounts/audit/"),
    ],
)
def test_each_role_lands_on_its_page_after_signing_in(db, request, user, landing):
    person = request.getfixturevalue(user)
    person.set_password(PASSWORD)
    person.save()
    device = enrolled(person)
    client = Client()
    response = client.post("/accounts/login/", {"username": person.username, "password": PASSWORD})
    assert (response.status_code, response["Location"]) == (302, landing)
    asked = client.get(landing)
    assert asked["Location"] == f"/accounts/second-factor/?{urlencode({'next': landing})}"
    passed = client.post(asked["Location"], {"token": code_for(device)})
    assert (passed.status_code, passed["Location"]) == (302, landing)
    assert client.get(landing).status_code == 200


def test_the_auditor_at_the_patient_list_goes_to_the_audit_page(login, ivy):
    response = login(ivy).get("/")
    assert (response.status_code, response["Location"]) == (302, "/accounts/audit/")


def test_a_user_with_no_role_sees_a_403_with_navigation_and_sign_out(login, nora):
    response = login(nora).get("/")
    html = response.content.decode()
    assert response.status_code == 403
    assert "Sign out" in html and "ask your clinic administrator to give you one" in html


@pytest.mark.parametrize(
    ("user", "links"),
    [
        ("sam", {"Patients", "Schedule", "Waitlist", "Protocols", "Clinic rules"}),
        ("ivy", {"Controlled substances", "Protocols", "Clinic rules", "Audit",
                 "Emergency reviews"}),
        ("alex", {"Patients", "Schedule", "Waitlist", "Controlled substances", "Protocols",
                  "Clinic rules", "Audit", "Emergency reviews", "Outbox", "Staff accounts",
                  "Site", "Outcomes"}),
    ],
)  # fmt: skip
def test_the_navigation_shows_what_the_role_may_use(db, request, login, user, links):
    client = login(request.getfixturevalue(user))
    html = client.get("/clinic-rules/").content.decode()
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', html, re.S).group(1)
    found = dict(re.findall(r'<a href="([^"]+)">([^<]+)</a>', nav))
    assert set(found.values()) == links
    opened = {text: client.get(href).status_code for href, text in found.items()}
    assert opened == dict.fromkeys(links, 200)


def test_membership_of_the_invited_user(login, alex, north):
    login(alex).post(
        "/accounts/staff/invite/",
        {
            "username": "eve", "first_name": "Eve", "last_name": "Ng",
            "email": "eve@clinic.example", "roles": ["auditor", "scheduler"], "site": north.pk,
        },
    )  # fmt: skip
    eve = User.objects.get(username="eve")
    sites = list(Membership.objects.filter(user=eve).values_list("site", flat=True))
    assert (eve.roles, sites) == (["auditor", "scheduler"], [north.pk])


def test_the_staff_page_reads_the_same_queries_for_more_staff(login, alex, north):
    """An N+1 guard: the roles of every account come in one query."""
    client = login(alex)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/accounts/staff/").status_code == 200
        return len(captured)

    queries()  # the page's read is North's first audit event: it makes the lane's head
    few = queries()
    for n in range(4):
        make_user(f"extra{n}", "nurse", north)
    assert queries() == few
