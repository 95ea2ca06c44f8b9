"""Wrong tablet codes are bounded per site, atomically, not per address (issue 14, item 5)."""

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection
from django.test import Client

from sustain.portal import services
from sustain.portal.models import KioskGuard
from sustain.portal.services import InvitationRefused

pytestmark = pytest.mark.db

NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)


def code_for(pat, ben) -> str:
    _, code = services.open_on_kiosk(
        patient=pat, instrument_codes=["phq9"], timepoint="pre_infusion", by=ben, now=NOW
    )
    return code


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def reason(code: str, site, at=NOW) -> str:
    try:
        services.redeem_kiosk_code(code, now=at, site=site)
    except InvitationRefused as refused:
        return refused.reason
    return "opened"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_forty_parallel_guesses_check_at_most_five(north):
    barrier = threading.Barrier(40)
    results: list[str] = []

    def guess(n: int) -> None:
        try:
            barrier.wait()
            results.append(reason(f"{n:06d}", north))
        except Exception as error:
            results.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results).count("kiosk-code") == 5
    assert sorted(results).count("kiosk-locked") == 35
    assert KioskGuard.objects.get(scope=f"site:{north.pk}").failures == 5


def test_one_sites_wrong_codes_do_not_lock_another_sites_tablet(pat, ben, north, south):
    code = code_for(pat, ben)
    assert [reason(wrong(code), south) for _ in range(6)] == ["kiosk-code"] * 5 + ["kiosk-locked"]
    assert reason(code, south) == "kiosk-locked"
    assert reason(code, north) == "opened"


def test_a_tablet_takes_only_its_own_sites_codes(pat, ben, south):
    assert reason(code_for(pat, ben), south) == "kiosk-code"


def test_right_codes_use_up_nothing_and_the_lock_expires(pat, ben, north):
    for _ in range(4):
        assert reason(wrong("000000"), north) == "kiosk-code"
    for _ in range(3):  # three patients start in a row
        assert reason(code_for(pat, ben), north) == "opened"
    assert reason(wrong("000000"), north) == "kiosk-code"  # the fifth wrong code
    code = code_for(pat, ben)
    assert reason(code, north) == "kiosk-locked"
    assert reason(code, north, at=NOW + dt.timedelta(minutes=10)) == "opened"


def test_many_tablets_behind_one_proxy_are_not_one_address(pat, ben, north, south):
    """Every request comes from the proxy's address; only the site's wrong codes count."""
    code = code_for(pat, ben)
    proxy = Client(REMOTE_ADDR="10.0.0.1")
    with time_machine.travel(NOW, tick=False):
        for _ in range(5):
            assert proxy.post(f"/kiosk/?site={south.pk}", {"code": "123456"}).status_code == 400
        opened = proxy.post(f"/kiosk/?site={north.pk}", {"code": code})
    assert opened.status_code == 302


@pytest.mark.parametrize("site", ["abc", "99999", "9" * 40, "²"])
def test_a_bad_tablet_address_is_refused_in_words_and_checks_nothing(site, pat, ben):
    code = code_for(pat, ben)
    with time_machine.travel(NOW, tick=False):
        answer = Client().post(f"/kiosk/?site={site}", {"code": code})
    assert answer.status_code == 400
    assert "This tablet&#x27;s address is not valid" in answer.content.decode()
    assert KioskGuard.objects.count() == 0
