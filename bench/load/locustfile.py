"""The load test's clinic staff (TST-02): nurses and schedulers signed in past the second
factor, reading the day board, patient pages and the patient list, and booking series through
the API. Reads the sessions and patients bench/load/seed.py wrote (SUSTAIN_LOAD_SEED).

Requests go to gunicorn over loopback HTTP as the TLS proxy would forward them
(X-Forwarded-Proto: https), so production settings (secure cookies, HSTS) stay on.
"""

import json
import os
import random

from locust import HttpUser, between, task

SEED = json.loads(open(os.environ["SUSTAIN_LOAD_SEED"]).read())  # noqa: SIM115
PROXY = {"X-Forwarded-Proto": "https"}


class Staff(HttpUser):
    abstract = True
    wait_time = between(0.5, 2)  # a person reads the page before the next click
    session_key = ""

    def on_start(self) -> None:
        self.client.headers.update(
            PROXY
            | {
                # The production cookie names (sustain.settings: __Host- outside debug).
                "Cookie": f"__Host-sessionid={SEED[self.session_key]}; "
                f"__Host-csrftoken={SEED['csrf']}"
            }
        )

    def page(self, path: str, name: str) -> None:
        """GET a page; anything but 200 (a redirect to sign in, say) counts as an error."""
        with self.client.get(path, name=name, allow_redirects=False, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"{r.status_code} instead of the page")

    def patient_page(self) -> None:
        patient = random.choice(SEED["patients"])  # noqa: S311 - a load mix, not a secret
        self.page(f"/patients/{patient}/", "/patients/<id>/")


class Nurse(Staff):
    weight = 3
    session_key = "nurse"

    @task(3)
    def day_board(self) -> None:
        self.page("/schedule/", "/schedule/ (day board)")

    @task(3)
    def patient(self) -> None:
        self.patient_page()

    @task(1)
    def patient_list(self) -> None:
        self.page("/", "/ (patient list)")


class Scheduler(Staff):
    weight = 1
    session_key = "scheduler"

    @task(2)
    def book_series(self) -> None:
        if not SEED["to_book"]:
            return
        patient, first_day = SEED["to_book"].pop()
        host = self.host.split("://", 1)[1]
        self.client.post(
            f"/api/v1/patients/{patient}/series",
            json={"first_day": first_day},
            headers={"X-CSRFToken": SEED["csrf"], "Origin": f"https://{host}"},
            name="/api/v1/patients/<id>/series",
        )

    @task(2)
    def patient(self) -> None:
        self.patient_page()

    @task(1)
    def week(self) -> None:
        self.page("/schedule/week/", "/schedule/week/")
