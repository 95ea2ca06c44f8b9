"""Staff accounts (sustain.accounts.users): invite, deactivate, reactivate, reset, roles; every
change audited, every refusal naming its reason."""

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from sustain.accounts import users
from sustain.accounts.models import AuditEvent, Membership, OutboxMessage, User
from sustain_core.errors import ClinicalValueError
from tests.sustain.conftest import make_user
from tests.sustain.scheduling.test_booking import run_together

pytestmark = pytest.mark.db

NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)


def invitation(north, **changes):
    fields = {
        "username": "dana", "first_name": "Dana", "last_name": "Reyes",
        "email": "dana@clinic.example", "roles": frozenset({"nurse"}), "site": north,
    } | changes  # fmt: skip
    return users.Invitation(**fields)


def staff_events(before: int) -> list[tuple[str, str, str, int | None, str]]:
    return [
        (e.action, e.category, e.reason, e.site_id, e.actor_username)
        for e in AuditEvent.objects.filter(id__gt=before)
    ]


def refusal(action) -> str:
    with pytest.raises(ClinicalValueError) as error:
        action()
    return error.value.message


def test_invite_makes_an_account_with_no_password_and_sends_a_link(north, alex):
    before = AuditEvent.objects.latest("id").id
    dana = users.invite_user(invitation=invitation(north), by=alex, now=NOW)
    assert (dana.username, dana.get_full_name(), dana.is_active, dana.has_usable_password()) == (
        "dana", "Dana Reyes", True, False
    )  # fmt: skip
    assert (dana.roles, [m.site for m in Membership.objects.filter(user=dana)]) == (
        ["nurse"], [north]
    )  # fmt: skip
    message = OutboxMessage.objects.get()
    assert (message.to, message.subject, message.site) == (
        "dana@clinic.example", "Your Sustain account at North Clinic", north
    )  # fmt: skip
    assert "http://127.0.0.1:8000/accounts/set-password/" in message.body
    assert staff_events(before) == [("create", "staff", "invited nurse", north.pk, "alex")]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"username": "ada"}, "the username ada is taken"),
        ({"username": "ADA"}, "the username ADA is taken"),
        ({"username": "dana reyes"}, "a username is letters, digits and @ . + - _ only, "
                                     "without spaces"),
        ({"email": "not-an-address"}, "an e-mail address is needed for the invitation "
                                      "(e.g. name@clinic.org)"),
        ({"email": "ada@example.org"}, "another account uses ada@example.org"),
        ({"roles": frozenset()}, "choose at least one role (to stop someone signing in, "
                                 "deactivate the account)"),
        ({"roles": frozenset({"superuser"})}, "no such role: superuser"),
    ],
)  # fmt: skip
def test_invite_refusals_change_nothing(north, alex, ada, changes, message):
    before = (User.objects.count(), AuditEvent.objects.count(), OutboxMessage.objects.count())
    invite = invitation(north, **changes)
    assert refusal(lambda: users.invite_user(invitation=invite, by=alex, now=NOW)) == message
    after = (User.objects.count(), AuditEvent.objects.count(), OutboxMessage.objects.count())
    assert after == before


def test_invite_to_another_site_is_refused(north, south, alex):
    invite = invitation(south)
    assert refusal(lambda: users.invite_user(invitation=invite, by=alex, now=NOW)) == (
        "you are not a member of South Clinic"
    )


def test_only_an_administrator_invites(north, ada):
    invite = invitation(north)
    assert refusal(lambda: users.invite_user(invitation=invite, by=ada, now=NOW)) == (
        "only a clinic administrator invites staff"
    )


def test_deactivate_and_reactivate_are_audited_and_stop_signing_in(north, alex, ben, login):
    ben.set_password("a long enough passphrase")
    ben.save()
    open_session = login(ben)
    before = AuditEvent.objects.latest("id").id
    users.deactivate_user(user=ben, by=alex)
    ben.refresh_from_db()
    assert ben.is_active is False
    assert open_session.get("/").status_code == 302  # the open session ends
    # Through the sign-in page: django-axes' backend wants the request (Client.login has none).
    credentials = {"username": "ben", "password": "a long enough passphrase"}
    assert Client().post("/accounts/login/", credentials).status_code == 200  # refused
    users.reactivate_user(user=ben, by=alex)
    assert Client().post("/accounts/login/", credentials).status_code == 302
    assert [e[:3] for e in staff_events(before) if e[1] == "staff"] == [
        ("update", "staff", "deactivated"), ("update", "staff", "reactivated")
    ]  # fmt: skip


def test_an_administrator_cannot_deactivate_themself(north, alex):
    make_user("alma", "clinic_admin", north)  # not the last administrator: the reason is self
    assert refusal(lambda: users.deactivate_user(user=alex, by=alex)) == (
        "you cannot deactivate your own account: another clinic administrator can"
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_administrators_giving_up_the_role_at_once_leave_one(north, alex):
    """The last-administrator check under a race: both see the other still an administrator
    unless the site's row lock makes the second wait for the first."""
    alma = make_user("alma", "clinic_admin", north)
    alex.groups.add(Group.objects.get(name="nurse"))
    alma.groups.add(Group.objects.get(name="nurse"))

    def give_up(person: User):
        return lambda: users.change_roles(
            user=User.objects.get(pk=person.pk), roles={"nurse"},
            by=User.objects.get(pk=person.pk),
        )  # fmt: skip

    results = run_together([give_up(alex), give_up(alma)])
    refused = [r for r in results if isinstance(r, ClinicalValueError)]
    assert (len(refused), len([r for r in results if isinstance(r, User)])) == (1, 1)
    assert "is the last clinic administrator of North Clinic" in refused[0].message
    assert [u.username for u in users.staff_of_site(north) if "clinic_admin" in u.roles] in (
        ["alex"], ["alma"]
    )  # fmt: skip


def test_another_sites_staff_cannot_be_changed(north, south, alex, carl):
    assert refusal(lambda: users.deactivate_user(user=carl, by=alex)) == (
        "carl does not work at any of your sites"
    )
    assert carl.is_active


def test_staff_who_also_work_at_a_site_you_do_not_administer_are_refused(north, south, alex, ben):
    Membership.objects.create(user=ben, site=south)
    assert refusal(lambda: users.deactivate_user(user=ben, by=alex)) == (
        "ben also works at South Clinic, which you do not administer: an administrator of "
        "every site they work at changes the account"
    )


def test_only_an_administrator_changes_accounts(north, ada, ben):
    assert refusal(lambda: users.deactivate_user(user=ben, by=ada)) == (
        "only a clinic administrator changes staff accounts"
    )


def test_reset_password_voids_the_old_one_and_sends_a_link(north, alex, ben):
    ben.set_password("a long enough passphrase")
    ben.save()
    before = AuditEvent.objects.latest("id").id
    message = users.reset_password(user=ben, by=alex, now=NOW)
    ben.refresh_from_db()
    assert ben.has_usable_password() is False
    assert (message.to, message.subject) == ("ben@example.org", "Set a new Sustain password")
    assert [e[:3] for e in staff_events(before)] == [("update", "staff", "password reset")]


def test_reset_of_a_deactivated_account_is_refused(north, alex, ben):
    users.deactivate_user(user=ben, by=alex)
    assert refusal(lambda: users.reset_password(user=ben, by=alex, now=NOW)) == (
        "ben is deactivated: reactivate first"
    )


def test_change_roles_is_audited(north, alex, ben):
    before = AuditEvent.objects.latest("id").id
    users.change_roles(user=ben, roles={"nurse", "scheduler"}, by=alex)
    assert User.objects.get(pk=ben.pk).roles == ["nurse", "scheduler"]
    assert [e[:3] for e in staff_events(before)] == [("update", "staff", "roles nurse+scheduler")]


def test_nobody_gives_themself_a_role(north, alex):
    make_user("alma", "clinic_admin", north)
    assert refusal(
        lambda: users.change_roles(user=alex, roles={"clinic_admin", "prescriber"}, by=alex)
    ) == ("you cannot give yourself a role (prescriber): another clinic administrator can")
    assert User.objects.get(pk=alex.pk).roles == ["clinic_admin"]


def test_an_administrator_may_give_up_a_role_unless_the_last(north, alex):
    assert refusal(lambda: users.change_roles(user=alex, roles={"auditor"}, by=alex)) == (
        "you cannot give yourself a role (auditor): another clinic administrator can"
    )
    alex.groups.add(Group.objects.get(name="auditor"))
    alex = User.objects.get(pk=alex.pk)
    assert refusal(lambda: users.change_roles(user=alex, roles={"auditor"}, by=alex)) == (
        "alex is the last clinic administrator of North Clinic: make someone else a clinic "
        "administrator there before you take the clinic administrator role away"
    )
    make_user("alma", "clinic_admin", north)
    users.change_roles(user=alex, roles={"auditor"}, by=User.objects.get(pk=alex.pk))
    assert User.objects.get(pk=alex.pk).roles == ["auditor"]


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        (set(), "choose at least one role (to stop someone signing in, deactivate the account)"),
        ({"nurse"}, "ben has these roles already"),
    ],
)
def test_change_roles_refusals(north, alex, ben, roles, message):
    assert refusal(lambda: users.change_roles(user=ben, roles=roles, by=alex)) == message


def test_a_link_works_once_and_not_after_deactivation(north, alex, ben):
    users.reset_password(user=ben, by=alex, now=timezone.now())
    ben.refresh_from_db()
    token = users.tokens.make_token(ben)
    assert users.tokens.check_token(ben, token)
    users.deactivate_user(user=ben, by=alex)
    ben.refresh_from_db()
    assert users.tokens.check_token(ben, token) is False


def test_the_first_administrator_is_made_from_a_shell_once(db, capsys):
    call_command(
        "add_site_admin", "--site", "East Clinic", "--timezone", "America/Denver",
        "--username", "root", "--email", "root@clinic.example",
    )  # fmt: skip
    root = User.objects.get(username="root")
    assert (root.roles, [s.name for s in root.sites.all()], root.has_usable_password()) == (
        ["clinic_admin"], ["East Clinic"], False
    )  # fmt: skip
    assert "/accounts/set-password/" in capsys.readouterr().out
    event = AuditEvent.objects.get(category="staff")
    assert (event.actor_username, event.action, event.reason) == (
        "cli", "create", "first administrator"
    )  # fmt: skip
    with pytest.raises(CommandError, match="East Clinic has a clinic administrator already"):
        call_command(
            "add_site_admin", "--site", "East Clinic", "--username", "two",
            "--email", "two@clinic.example",
        )  # fmt: skip
    with pytest.raises(CommandError, match="is not an IANA time zone name"):
        call_command(
            "add_site_admin", "--site", "West Clinic", "--timezone", "Mars/Olympus",
            "--username", "three", "--email", "three@clinic.example",
        )  # fmt: skip
    assert User.objects.count() == 1
