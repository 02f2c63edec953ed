"""Several `triage serve` processes on one PostgreSQL database share the patients' sessions, the
clinic's sessions and the queue: a patient starts on one server and finishes on the other (as a
load balancer may send them), and staff signed in on one see it on the other at once."""
from __future__ import annotations

import re

import httpx

from clinic_support import CASES, PASSWORD, RULEBOOK
from triage.web.clinic import accounts
from triage.web.db import make_engine, migrate, session_factory
from web_support import Patient, Server


def test_two_servers_on_one_postgresql_share_a_patients_session_and_the_queue(postgres_cluster):
    url = postgres_cluster.create_database()
    engine = make_engine(url)
    migrate(engine)
    with session_factory(engine)() as db:
        accounts.add_user(db, "alice", PASSWORD, actor="test")
        db.commit()
    engine.dispose()

    with Server(url) as first, Server(url) as second:
        # one browser (its cookies are per host, not per port), sent to either server
        with httpx.Client(base_url=first.url, timeout=30) as browser:
            # the first half of the questionnaire on the first server...
            patient = Patient(browser, RULEBOOK.questionnaire)
            stopped = patient.answer_all(CASES["urgent"], stop_at="leg_weakness")
            assert stopped == "/question/leg_weakness"
            # ...the rest on the second, with the same cookie: it knows where they were
            browser.base_url = second.url
            assert browser.get("/question/leg_weakness").status_code == 200
            asked_on_first = len(patient.asked)
            assert patient.answer_all(CASES["urgent"]) == "/check-answers"
            asked_on_second = patient.asked[asked_on_first:]
            assert asked_on_second[0] == "leg_weakness" and "age" not in asked_on_second
            assert patient.submit().headers["location"] == "/result"
            browser.base_url = first.url  # and the first server sees all of it
            answers = browser.get("/answers.json").json()
            assert answers["leg_weakness"] == "worsening" and answers["age"] == 40

        # a clinician signed in on the second server sees it in the queue of the first
        with httpx.Client(base_url=second.url, timeout=30) as staff_second:
            sign_in_page = staff_second.get("/clinic/sign-in").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', sign_in_page).group(1)
            signed = staff_second.post("/clinic/sign-in", data={
                "name": "alice", "password": PASSWORD, "next": "/clinic", "csrf_token": token})
            assert signed.status_code == 303
            clinic_cookie = staff_second.cookies.get("triage_clinic")
        with httpx.Client(base_url=first.url, timeout=30) as staff_first:
            staff_first.cookies.set("triage_clinic", clinic_cookie, path="/clinic")
            queue = staff_first.get("/clinic")
            assert queue.status_code == 200, queue.text[:300]
            assert re.findall(r'data-urgency="([a-z_]+)"', queue.text) == ["urgent"]
