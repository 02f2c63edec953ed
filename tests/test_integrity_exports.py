"""A clinic's CSV export: no cell a spreadsheet could run as a formula or split into a new row,
and the export reads back through `triage batch` row for row (issue 22, done-means 6).

The notes a patient types are free text; a clinic opens exports in a spreadsheet. OWASP's CSV
injection guidance: a cell starting with = + - @ or a tab or CR may be read as a formula, and a
bare CR, unquoted, ends the row (the next cell then starts a row of its own: a live formula)."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

from fastapi.testclient import TestClient

from clinic_support import CASES, PASSWORD, RULEBOOK, add_submission, sign_in
from triage.web.app import Settings, create_app
from triage.web.clinic import accounts
from triage.web.db import session_factory

NOTES = next(q.id for q in RULEBOOK.questionnaire.questions.values() if q.type == "text")

HOSTILE_NOTES = [
    "fine\r=cmd|' /C calc'!A0",           # a bare CR, then a DDE formula (the case)
    "fine\n=1+1",                        # a LF, then a formula
    "fine\r\n@SUM(A1:A2)",
    "=HYPERLINK(\"http://x\",\"y\")",
    "+1+1", "-2+3+cmd|' /C calc'!A0", "@SUM(1)", "\t=1+1", "\r=1+1",
    'quote " and , comma',
]


def test_every_csv_cell_is_inert_text_and_the_export_reads_back_row_for_row(tmp_path):
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'clinic.db'}"))
    factory = session_factory(app.state.engine)
    with factory() as db:
        accounts.add_user(db, "alice", PASSWORD, actor="test")
        stored = {}
        for n, note in enumerate(HOSTILE_NOTES):
            # an urgent case among self-care ones, so that a shifted row would change a verdict
            case = CASES["urgent"] if n % 3 == 0 else CASES["self_care"]
            submission = add_submission(db, {**case, NOTES: note}, minutes_ago=n)
            stored[submission.id] = (submission.urgency, note)
        db.commit()
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert sign_in(client).status_code == 303
        token = client.cookies.get("triage_csrf")
        reply = client.post("/clinic/export", data={"csrf_token": token, "format": "csv",
                                                    "scope": "all"})
    app.state.engine.dispose()
    assert reply.status_code == 200
    text = reply.text
    assert "\r" not in text  # no bare CR anywhere: nothing for a spreadsheet to split a row on

    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 1 + len(HOSTILE_NOTES)
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (cell, row)
            # a line inside a multi-line cell is not a cell start, but keep it plain as well
        case_id = row[0]
        note = row[rows[0].index(NOTES)]
        urgency, original = stored[case_id]
        # the note is the patient's words: line breaks as LF, an apostrophe before a formula
        assert note.lstrip("'") == original.replace("\r\n", "\n").replace("\r", "\n")

    path = tmp_path / "export.csv"
    path.write_bytes(reply.content)
    out = tmp_path / "out.jsonl"
    batch = subprocess.run([sys.executable, "-m", "triage", "batch", str(path), "-o", str(out)],
                           capture_output=True, text=True, timeout=300)
    assert batch.returncode == 0, batch.stderr
    results = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(results) == len(stored)  # row for row: no row split, none lost
    assert {r["case_id"]: r["urgency"] for r in results} == \
        {case_id: urgency for case_id, (urgency, _) in stored.items()}
