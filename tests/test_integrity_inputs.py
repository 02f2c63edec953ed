"""No input a client sends makes a server error (issue 22, done-means 3), on SQLite and PostgreSQL.

* The JSON API reads a body with the command line's reader and limits: nesting deeper than the
  depth limit and a whole number longer than the digits limit are a 422 naming the problem, as
  `triage assess` refuses them (they were a 500: a RecursionError, Python's int-digits cap).
* A NUL character, which PostgreSQL cannot store in text, is refused at the edge with 400
  wherever it comes: a clinic sign-in name, an export's ids, a submission id in the path, a
  patient's answer (each was a 500 on PostgreSQL).
* A hypothesis fuzz posts every HTML form of the patient's and the clinic's pages with arbitrary
  fields (a valid CSRF token most of the time, so the handlers run), and schemathesis tries the
  OpenAPI document's operations: no 5xx. Bounded: a fixed number of examples per database.
"""
from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings, strategies as st

from clinic_support import PASSWORD, add_submission, CASES
from triage.web.app import Settings, create_app
from triage.web.clinic import accounts
from triage.web.db import session_factory
from support import depth

CSRF = "c" * 43


@pytest.fixture
def site(database_url):
    """An app on a fresh database with an admin account, one submission, and a client holding a
    CSRF cookie, a patient session and a signed-in clinic session."""
    app = create_app(Settings(database_url=database_url))
    factory = session_factory(app.state.engine)
    with factory() as db:
        admin = accounts.add_user(db, "alice", PASSWORD, role="admin", actor="test")
        submission = add_submission(db, CASES["urgent"])
        db.commit()
        submission_id = submission.id
    client = TestClient(app, raise_server_exceptions=False, base_url="http://127.0.0.1")
    client.cookies.set("triage_csrf", CSRF)

    def sign_in_clinic():
        with factory() as db:
            signed = accounts.start_session(db, db.merge(admin))
            db.commit()
        client.cookies.set("triage_clinic", signed.token, path="/clinic")

    with client:
        assert client.post("/start", data={"csrf_token": CSRF},
                           follow_redirects=False).status_code == 303
        sign_in_clinic()
        yield app, client, submission_id, sign_in_clinic
    app.state.engine.dispose()


# --------------------------------------------------------------------------- the API's reader

@pytest.mark.parametrize("body, words", [
    # the CLI's depth limit (docs/integrators/limits.md, TRIAGE_MAX_DEPTH): was a RecursionError, a 500
    (b"[" * 100_000 + b"]" * 100_000, "nested more than"),
    (b'{"age": ' + b"[" * 50 + b"]" * 50 + b"}", "nested more than"),
    # the CLI's digits limit (TRIAGE_MAX_INT_DIGITS): 40 digits were a 500
    (b'{"age": 1' + b"0" * 39 + b"}", "whole number of 40 digits"),
    (b'{"age": 40, "age": 41}', "appears twice"),
    (b"\xff\xfe{}", "UTF-16"),
    (b"[1, 2]", "expected a mapping"),
])
def test_the_api_refuses_what_the_command_line_refuses_with_a_422(tmp_path, body, words):
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'api.db'}"))
    with TestClient(app, raise_server_exceptions=False) as client:
        reply = client.post("/api/assess", content=body,
                            headers={"content-type": "application/json"})
    assert reply.status_code == 422, reply.text[:300]
    assert words in reply.json()["detail"]


# --------------------------------------------------------------------------- NUL at the edge

def test_a_nul_character_is_refused_with_400_wherever_it_comes(site):
    app, client, submission_id, _ = site
    with_nul = [
        ("post", "/clinic/sign-in", {"csrf_token": CSRF, "name": "ali\x00ce",
                                     "password": "x" * 12, "next": "/clinic"}),
        ("post", "/clinic/export", {"csrf_token": CSRF, "format": "csv", "scope": "selected",
                                    "id": submission_id + "\x00"}),
        ("post", "/clinic/export", {"csrf_token": CSRF, "format": "csv\x00", "scope": "all"}),
        ("get", f"/clinic/submissions/{submission_id}%00", None),
        ("get", "/clinic?urgency=urgent%00", None),
        ("post", "/resume", {"csrf_token": CSRF, "code": "ABCDE-\x00FGHJ"}),
    ]
    for method, path, data in with_nul:
        reply = getattr(client, method)(path, data=data, follow_redirects=False) \
            if data is not None else client.get(path, follow_redirects=False)
        assert reply.status_code == 400, (path, reply.status_code, reply.text[:300])
        assert "could not be read" in reply.text
    # a patient's note with a NUL in it: refused, the session unchanged, the next page still works
    assert client.get("/", follow_redirects=False).status_code == 200


# --------------------------------------------------------------------------- fuzz of every form

def _texts():
    return st.one_of(st.text(max_size=40),
                     st.sampled_from(["", " ", "\x00", "\r\n", "yes", "no", "__not_sure__",
                                      "-1", "1e309", "9" * 40, "all", "selected", "csv", "jsonl",
                                      "fhir", "urgent", "/clinic", "//evil.example",
                                      "\ud7ff\ufffd", "x" * 6000]))


def _forms(submission_id, question_ids):
    ids = st.one_of(st.just(submission_id), st.text(max_size=40))
    qids = st.one_of(st.sampled_from(question_ids), st.text(max_size=20))
    return st.one_of(
        st.tuples(st.sampled_from(["/start", "/submit", "/start-again", "/save"]),
                  st.fixed_dictionaries({}, optional={})),
        st.tuples(qids.map(lambda q: f"/question/{quote(q, safe='')}"),
                  st.fixed_dictionaries({}, optional={"answer": _texts(), "change": _texts()})),
        st.tuples(st.just("/resume"), st.fixed_dictionaries({}, optional={"code": _texts()})),
        st.tuples(st.just("/clinic/sign-in"), st.fixed_dictionaries(
            {}, optional={"name": _texts(), "password": _texts(), "next": _texts()})),
        st.tuples(ids.map(lambda i: f"/clinic/submissions/{quote(i, safe='')}/review"),
                  st.fixed_dictionaries({})),
        st.tuples(st.just("/clinic/export"), st.fixed_dictionaries(
            {}, optional={"format": _texts(), "scope": _texts(), "id": _texts(),
                          "urgency": _texts(), "reviewed": _texts()})),
        st.tuples(st.just("/clinic/sign-out"), st.fixed_dictionaries({})),
    )


def test_no_form_post_of_any_page_makes_a_server_error(site):
    app, client, submission_id, sign_in_clinic = site
    question_ids = list(app.state.rulebook.questionnaire.questions)
    seen = []

    @settings(max_examples=depth(120), deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(form=_forms(submission_id, question_ids),
           csrf=st.one_of(st.just(CSRF), st.just(CSRF), st.text(max_size=50)))
    def post(form, csrf):
        path, data = form
        if path == "/clinic/sign-out":
            sign_in_clinic()  # and sign out again below; the next clinic post signs in anew
        reply = client.post(path, data={"csrf_token": csrf, **data}, follow_redirects=False)
        seen.append(reply.status_code)
        assert reply.status_code < 500, (path, data, reply.status_code, reply.text[:500])
        if path == "/clinic/sign-out":
            sign_in_clinic()

    post()
    assert any(code in (200, 303) for code in seen)  # the handlers ran, not only refusals


# --------------------------------------------------------------------------- schemathesis

def test_the_openapi_operations_make_no_server_error(site):
    import schemathesis
    from schemathesis.checks import not_a_server_error

    app = site[0]
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=depth(60), deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def call(case):
            response = case.call()
            if response.status_code >= 500:
                failures.append((case.method, case.path, case.body, response.status_code))
            case.validate_response(response, checks=[not_a_server_error])

        call()
    assert failures == []
