"""Issue 24, items 3, 4 and 7: a workflow, not a tick (status, assignee, notes, each change
audited with who and when), a queue that scales (keyset pages, search, filters), the queue
noticing new submissions, and access control on every new page and action, on SQLite and
PostgreSQL."""
from __future__ import annotations

import datetime as dt
import html
import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from clinic_support import CASES, PASSWORD, add_submission, csrf_of, one_per_urgency, sign_in
from triage.web.app import Settings, create_app
from triage.web.clinic import accounts
from triage.web.clinic import queue as clinic_queue
from triage.web.clinic.models import AuditEvent, Note, Workflow


def text_of(page_html: str) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page_html).split()))


@pytest.fixture
def app(database_url):
    return create_app(Settings(database_url=database_url))


@pytest.fixture
def db(app):
    with app.state.db() as session:
        yield session


@pytest.fixture
def staff(db):
    accounts.add_user(db, "alice", PASSWORD, actor="test")
    accounts.add_user(db, "bob", PASSWORD, actor="test")
    db.commit()


@pytest.fixture
def client(app, staff):
    with TestClient(app) as c:
        assert sign_in(c).status_code == 303
        yield c


@pytest.fixture
def ids(db):
    return one_per_urgency(db)


def trail(db, action):
    db.expire_all()
    return list(db.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)
                           .order_by(AuditEvent.id)))


def change(client, submission_id, **fields):
    return client.post(f"/clinic/submissions/{submission_id}/workflow",
                       data={"csrf_token": csrf_of(client, "/clinic"), **fields},
                       follow_redirects=False)


def row_of(page: str, submission_id: str) -> str:
    """The queue's row of one submission, as text."""
    match = re.search(rf'<tr class="queue__row[^>]*>(?:(?!</tr>).)*?{submission_id}.*?</tr>',
                      page, re.S)
    assert match, submission_id
    return text_of(match.group())


def test_status_and_assignee_change_show_in_the_queue_and_are_audited(client, db, ids):
    urgent = ids["urgent"]
    assert "New" in row_of(client.get("/clinic").text, urgent)  # a submission starts new
    response = change(client, urgent, status="contacted", assignee="bob")
    assert response.status_code == 303
    row = row_of(client.get("/clinic").text, urgent)
    assert "Contacted" in row and "bob" in row
    status, assign = trail(db, "status"), trail(db, "assign")
    assert [(e.actor, e.submission_id, e.detail) for e in status] == \
        [("alice", urgent, "contacted")]
    assert [(e.actor, e.detail) for e in assign] == [("alice", "to bob")]
    assert status[0].at is not None
    # the same again changes nothing, and records nothing
    change(client, urgent, status="contacted", assignee="bob")
    assert len(trail(db, "status")) == 1 and len(trail(db, "assign")) == 1
    change(client, urgent, status="booked", assignee="")
    assert "Booked" in row_of(client.get("/clinic").text, urgent)
    assert [e.detail for e in trail(db, "assign")] == ["to bob", "to nobody"]


def test_a_status_not_offered_or_an_unknown_or_disabled_assignee_is_refused(client, db, ids):
    assert change(client, ids["soon"], status="lost").status_code == 400
    assert change(client, ids["soon"], assignee="mallory").status_code == 400
    accounts.disable_user(db, "bob", actor="test")
    db.commit()
    assert change(client, ids["soon"], assignee="bob").status_code == 400
    db.expire_all()
    assert db.get(Workflow, ids["soon"]) is None and trail(db, "status") == []


def test_a_note_is_shown_with_who_and_when_and_stays_out_of_the_audit_trail(client, db, ids):
    words = "Rang twice, no answer; letter sent."
    response = client.post(f"/clinic/submissions/{ids['urgent']}/notes",
                           data={"csrf_token": csrf_of(client, "/clinic"), "note": words},
                           follow_redirects=False)
    assert response.status_code == 303
    page = text_of(client.get(f"/clinic/submissions/{ids['urgent']}").text)
    assert words in page and "alice," in page
    notes = trail(db, "note")
    assert [(e.actor, e.submission_id) for e in notes] == [("alice", ids["urgent"])]
    assert "Rang" not in (notes[0].detail or "")
    empty = client.post(f"/clinic/submissions/{ids['urgent']}/notes",
                        data={"csrf_token": csrf_of(client, "/clinic"), "note": "  "})
    assert empty.status_code == 400
    assert db.scalar(sa.select(sa.func.count()).select_from(Note)) == 1


def test_the_queue_filters_by_status_assignee_and_date(client, db, ids):
    change(client, ids["soon"], status="referred", assignee="alice")
    change(client, ids["self_care"], assignee="bob")
    listed = lambda **params: re.findall(  # noqa: E731
        r'data-urgency="([a-z_]+)"', client.get("/clinic", params=params).text)
    assert listed(status="referred") == ["soon"]
    assert listed(status="new") == ["emergency", "urgent", "self_care"]
    assert listed(assignee="me") == ["soon"]
    assert listed(assignee="bob") == ["self_care"]
    assert listed(assignee="nobody") == ["emergency", "urgent"]
    old = add_submission(db, CASES["urgent"], minutes_ago=60 * 24 * 10)
    db.commit()
    today = dt.datetime.now(dt.timezone.utc).date()
    assert "urgent" in listed(until=(today - dt.timedelta(days=5)).isoformat())
    assert listed(until=(today - dt.timedelta(days=5)).isoformat()) == ["urgent"]
    assert old.id not in client.get("/clinic", params={"since": today.isoformat()}).text


def test_keyset_pages_show_every_submission_once_in_the_queue_order(client, db, monkeypatch):
    for n in range(7):  # 7 submissions: two urgencies, interleaved in time
        add_submission(db, CASES["urgent" if n % 2 else "self_care"], minutes_ago=n)
    db.commit()
    monkeypatch.setattr(clinic_queue, "PAGE_SIZE", 3)
    expected = [s.id for s in clinic_queue.queue(db)]
    seen, url, pages = [], "/clinic", 0
    while url and pages < 10:
        page = client.get(url).text
        seen += re.findall(r'name="id" value="([^"]+)"', page)
        found = re.search(r'<a href="([^"]+)">Next page</a>', page)
        url = html.unescape(found.group(1)) if found else None
        pages += 1
        if pages == 1:  # a submission arriving while the clinic reads: not shown twice
            add_submission(db, CASES["self_care"], minutes_ago=0)
            db.commit()
    # the one that arrived is listed where it belongs (the newest self-care, on a later page),
    # once; none is shown twice or skipped
    assert len(set(seen)) == len(seen) == len(expected) + 1
    assert pages == 3 and seen == [s.id for s in clinic_queue.queue(db)]


def test_a_bad_page_key_shows_the_first_page(client, ids):
    page = client.get("/clinic", params={"after": "not-a-key"})
    assert page.status_code == 200
    assert re.findall(r'data-urgency="([a-z_]+)"', page.text)[0] == "emergency"


def test_the_queue_says_when_new_submissions_arrive(client, db, ids):
    page = client.get("/clinic").text
    shown = re.search(r'data-newest="([^"]*)"', page).group(1)
    assert "Check for new submissions" in page  # without JavaScript: the link
    assert '<script src="/static/clinic-queue.js"' in page
    assert client.get("/clinic/updates").json() == {"newest": shown}
    add_submission(db, CASES["emergency"], minutes_ago=-1)
    db.commit()
    newest = client.get("/clinic/updates").json()["newest"]
    assert dt.datetime.fromisoformat(newest) > dt.datetime.fromisoformat(shown)


NEW_POSTS = ["/clinic/submissions/{id}/workflow", "/clinic/submissions/{id}/notes"]


def test_the_new_pages_and_actions_need_a_signed_in_enabled_account(app, db, staff, ids):
    with TestClient(app) as anonymous:
        assert anonymous.get("/clinic/updates", follow_redirects=False).status_code == 303
        for path in NEW_POSTS:
            response = anonymous.post(path.format(id=ids["urgent"]),
                                      data={"csrf_token": csrf_of(anonymous), "status": "closed",
                                            "note": "x"}, follow_redirects=False)
            assert response.headers["location"].startswith("/clinic/sign-in"), path
    with TestClient(app) as c:
        sign_in(c)
        token = csrf_of(c, "/clinic")
        accounts.disable_user(db, "alice", actor="test")
        db.commit()
        for path in NEW_POSTS:
            response = c.post(path.format(id=ids["urgent"]),
                              data={"csrf_token": token, "status": "closed", "note": "x"},
                              follow_redirects=False)
            assert response.status_code == 303, path
        assert c.get("/clinic/updates", follow_redirects=False).status_code == 303
    assert trail(db, "status") == [] and trail(db, "note") == []
    assert db.scalar(sa.select(sa.func.count()).select_from(Note)) == 0


@pytest.mark.parametrize("token", ["missing", "wrong"])
@pytest.mark.parametrize("path", NEW_POSTS)
def test_the_new_forms_refuse_a_post_without_their_csrf_token(client, db, ids, path, token):
    data = {"status": "closed", "note": "x"}
    if token == "wrong":
        data["csrf_token"] = "x" * 40
    response = client.post(path.format(id=ids["urgent"]), data=data, follow_redirects=False)
    assert response.status_code == 403
    assert trail(db, "status") == [] and trail(db, "note") == []


def test_an_unknown_submission_is_a_404_and_records_nothing(client, db, ids):
    for path in NEW_POSTS:
        response = change(client, "no-such-submission", status="closed") if "workflow" in path \
            else client.post(path.format(id="no-such-submission"),
                             data={"csrf_token": csrf_of(client, "/clinic"), "note": "x"})
        assert response.status_code == 404
    assert trail(db, "status") == [] and trail(db, "note") == []


def test_a_clinician_and_an_administrator_may_both_act_on_a_submission(app, db, ids):
    """Every account works the queue; only the audit trail's page is the administrator's."""
    accounts.add_user(db, "carol", PASSWORD, role="admin", actor="test")
    accounts.add_user(db, "dave", PASSWORD, role="clinician", actor="test")
    db.commit()
    for name in ("carol", "dave"):
        with TestClient(app) as c:
            sign_in(c, name)
            assert change(c, ids["urgent"], status="contacted" if name == "carol"
                          else "closed").status_code == 303
    assert [e.actor for e in trail(db, "status")] == ["carol", "dave"]
