"""The printable report (issue 4) as a person and their clinician meet it: the verdict of each
urgency, the stretch plan only when it is safe, nothing fetched from elsewhere, the person's notes
escaped, the same facts in every format, and a self-care PDF that fits on two A4 pages."""
from __future__ import annotations

import datetime
import html
import random
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from triage.cli import main_group
from triage.conditions import AnswerTest, iter_leaves
from triage.engine import assess
from triage.report import (VERDICTS, markdown_escape, render_report, report_facts, write_report)
from triage.resources import templates_dir
from triage.clinician.vignettes import load_vignettes
from support import ALL_CLEAR

DAY = datetime.date(2026, 11, 24)


CASES = {
    # Contract section 3 (NICE CKS "Sciatica"; GIRFT suspected cauda equina pathway 2023): saddle
    # numbness is possible cauda equina syndrome, an emergency.
    "emergency": {**ALL_CLEAR, "saddle_numbness": True},
    # Contract section 3 (NICE CKS "Back pain - low"): fever with back pain is a possible spinal
    # infection; see a doctor the same day.
    "urgent": {**ALL_CLEAR, "fever": True},
    # Contract section 3 (NICE CKS "Sciatica"): pain spreading below the knee is nerve-root pain;
    # book a doctor or physiotherapist within two weeks, with only gentle exercises meanwhile.
    "soon": {**ALL_CLEAR, "leg_pain": "below_knee"},
    # Contract section 3 (Janda's lower crossed pattern, two posture signs): muscle imbalance with
    # no warning sign is self-care with the kneeling hip-flexor stretch first.
    "self_care": {**ALL_CLEAR, "sitting_hours": 9, "tight_hip_flexors": True,
                  "pelvis_tips_forward": True},
}
# Contract section 3 (NICE NG59 1.2, stay active): no warning sign, no injury, no posture pattern
# is non-specific back pain, self-care with gentle mobility exercises.
NONSPECIFIC = dict(ALL_CLEAR)

# Words the contract (section 2) uses for what to do at each urgency.
CONTRACT_WORDS = {
    "emergency": ("emergency department", "now"),
    "urgent": ("doctor", "today"),
    "soon": ("doctor or physiotherapist", "two weeks"),
    "self_care": ("stretches", "active"),
}

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "desk_worker.yaml"
CASES_DIR = Path(__file__).resolve().parent / "cases"


def assessed(answers, rulebook):
    return assess(answers, rulebook)


class Page(HTMLParser):
    """The HTML as a browser would see it: well-formed (every element closed in order), its text,
    its tags and attributes, and the text of each element with a given class."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
            "track", "wbr"}

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, set]] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.text_parts: list[str] = []
        self.by_class: dict[str, list[str]] = {}
        self.style = ""
        self.feed(text)
        self.close()
        if self.stack:
            self.errors.append(f"unclosed: {[t for t, _ in self.stack]}")

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag not in self.VOID:
            self.stack.append((tag, set((attrs.get("class") or "").split())))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"</{tag}> does not close {self.stack[-1][0] if self.stack else '-'}")
            return
        self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1][0] == "style":
            self.style += data
            return
        if self.stack and self.stack[-1][0] == "title" and len(self.stack) > 2:
            return  # an SVG's accessible title, not page text
        self.text_parts.append(data)
        for _, classes in self.stack:
            for cls in classes:
                self.by_class.setdefault(cls, []).append(data)

    @property
    def text(self) -> str:
        return squash("".join(self.text_parts))

    def text_of(self, cls: str) -> str:
        return squash("".join(self.by_class.get(cls, [])))


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def reports(rulebook):
    """Each urgency's assessment and its HTML report."""
    out = {}
    for urgency, answers in CASES.items():
        result = assessed(answers, rulebook)
        assert result.urgency == urgency  # the case is what its comment says it is
        out[urgency] = (result, render_report(result, rulebook, "html", today=DAY))
    return out


# --------------------------------------------------------------------------- the HTML

@pytest.mark.parametrize("urgency", list(CASES))
def test_the_html_is_well_formed_and_refers_to_nothing_outside_itself(reports, urgency):
    page = Page(reports[urgency][1])
    assert page.errors == []
    tags = {tag for tag, _ in page.tags}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed", "image", "use"}
    for tag, attrs in page.tags:
        for name in ("src", "href", "xlink:href", "action", "srcset", "data"):
            assert name not in attrs, (tag, name, attrs[name])
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)  # no event handlers
        # the only URL is an SVG's namespace name, which is never fetched
        for name, value in attrs.items():
            if value and "//" in value:
                assert (name, value) == ("xmlns", "http://www.w3.org/2000/svg"), (tag, name, value)
    assert "url(" not in page.style and "@import" not in page.style and "@font-face" not in page.style


def test_a_note_with_markup_is_shown_as_typed_and_never_runs(rulebook):
    note = 'Hurts <script>alert("x")</script> & <b>more</b> when I [sit](http://evil.example)'
    result = assessed({**CASES["self_care"], "notes": note}, rulebook)
    page_html = render_report(result, rulebook, "html", today=DAY)
    page = Page(page_html)
    assert "<script>" not in page_html and "<b>more</b>" not in page_html
    plain_note = assessed({**CASES["self_care"], "notes": "plain words"}, rulebook)
    plain_page = Page(render_report(plain_note, rulebook, "html", today=DAY))
    assert [t for t, _ in page.tags] == [t for t, _ in plain_page.tags]  # no element added
    assert squash(note) in page.text  # the reader sees exactly what was typed
    markdown = render_report(result, rulebook, "markdown", today=DAY)
    assert "<script>" not in markdown and "<b>" not in markdown
    assert re.search(r"(?<!\\)\]\(http", markdown) is None  # no live link either
    assert markdown_escape(note) in markdown
    assert squash(note) in plain(render_report(result, rulebook, "text", today=DAY), "text")


@pytest.mark.parametrize("urgency", list(CASES))
def test_each_urgency_shows_its_own_verdict_first(reports, urgency):
    result, page_html = reports[urgency]
    page = Page(page_html)
    verdict = page.text_of("verdict")
    assert verdict, "no verdict panel"
    assert f"verdict-{urgency}" in page_html
    for word in CONTRACT_WORDS[urgency]:
        assert word in verdict.lower(), (word, verdict)
    for other, words in VERDICTS.items():
        if other != urgency:
            assert words["headline"] not in verdict
    # the verdict comes before anything else the report says
    assert page.text.index(VERDICTS[urgency]["headline"]) < page.text.index("Likely causes")
    # readable without colour: the level is named in words and marked on the scale
    assert VERDICTS[urgency]["label"].upper() in verdict
    assert squash(page.text_of("current")).endswith(VERDICTS[urgency]["label"])


@pytest.mark.parametrize("urgency", ["emergency", "urgent"])
def test_emergency_and_urgent_reports_carry_no_stretch_plan(reports, rulebook, urgency):
    """Issue 10, item 12: no stretch-plan section at all, nor stretches left out, nor daily-life
    details; the verdict says not to exercise."""
    page = Page(reports[urgency][1])
    assert not any(a.get("class", "").startswith("stretch") for _, a in page.tags)
    for stretch in rulebook.stretches.values():
        assert stretch.name not in page.text
    headings = [squash(h) for h in page.by_class.get("plan", [])]
    assert headings == [] and "plan" not in {c for _, a in page.tags
                                             for c in (a.get("class") or "").split()}
    for words in ("Your stretch plan", "While you wait", "Left out on purpose",
                  "Exercises suggested", "hours a day", "posture signs:"):
        assert words not in page.text, words
    assert re.search(r"[Dd]o not (do|start) any (new )?(stretches|exercises)",
                     page.text_of("verdict"))


@pytest.mark.parametrize("urgency", ["soon", "self_care"])
def test_soon_and_self_care_show_each_stretch_with_its_drawing_and_dose(reports, rulebook, urgency):
    result, page_html = reports[urgency]
    page = Page(page_html)
    assert result.stretches
    articles = [a["id"] for t, a in page.tags if t == "article"]
    assert articles == [f"stretch-{s}" for s in result.stretches]
    drawings = [a for t, a in page.tags if t == "svg" and a.get("role") == "img"
                and "symbol" not in a.get("aria-label", "")]
    assert len(drawings) == len(result.stretches)
    for stretch_id in result.stretches:
        stretch = rulebook.stretches[stretch_id]
        for fact in (stretch.name, stretch.hold, stretch.repetitions, *stretch.steps):
            assert squash(fact) in page.text, fact
    if urgency == "soon":
        assert "While you wait for your appointment" in page.text


def test_stretches_the_rules_left_out_are_not_offered_and_the_clinician_is_told(reports, rulebook):
    # ST-NERVE-01 (NICE CKS "Sciatica"): with nerve-root pain, stretches that pull on the nerve
    # are left out.
    result, page_html = reports["soon"]
    assert result.avoided_stretches
    page = Page(page_html)
    for stretch_id in result.avoided_stretches:
        assert f"stretch-{stretch_id}" not in page_html
    assert "Left out on purpose" in page.text_of("clinician")


def test_every_fired_rule_is_explained_with_its_id(reports, rulebook):
    """Every rule that fired, except (issue 10, item 2) on urgent and emergency the rules that only
    choose stretches, since there is no plan, and the non-specific cause."""
    for result, page_html in reports.values():
        text = Page(page_html).text
        for reason in result.reasons:
            concludes = rulebook.rule(reason.id).concludes
            plan_only = set(concludes) <= {"stretch", "avoid_stretch"}
            # and beside a warning sign, not "non-specific back pain, the most common kind"
            reassuring = concludes == {"cause": ["nonspecific"]}
            if (plan_only or reassuring) and result.urgency in ("urgent", "emergency"):
                assert reason.id not in text
                continue
            assert reason.id in text
            assert squash(rulebook.rule(reason.id).title) in text


def test_unanswered_warning_signs_are_shown_as_unknown(rulebook):
    result = assessed({"age": 30, "duration_weeks": 2, "trauma": "none"}, rulebook)
    page = Page(render_report(result, rulebook, "html", today=DAY))
    assert result.unanswered_red_flags
    assert "count as unknown, not as no" in page.text
    answers = page.text.split("The answers given", 1)[1]
    assert "Not answered, so unknown (not no)" in answers
    for qid in result.unanswered_red_flags:
        assert rulebook.questionnaire.questions[qid].label in answers


def test_warning_signs_replace_reassurance_about_the_usual_course(reports):
    # With cauda equina suspected, "it usually settles" would mislead.
    text = Page(reports["emergency"][1]).text
    assert "To rule out first: possible cauda equina" in text
    assert "usually settles" not in text and "Keep moving" not in text


def test_every_stretch_in_the_catalogue_has_its_own_drawing(rulebook):
    for stretch in rulebook.stretches.values():
        drawing = templates_dir() / "drawings" / f"{stretch.drawing}.svg"
        assert drawing.is_file(), stretch.id
        svg = drawing.read_text(encoding="utf-8")
        parsed = Page(svg)
        assert parsed.errors == []
        assert parsed.tags[0][0] == "svg" and parsed.tags[0][1].get("role") == "img"
        assert parsed.tags[0][1].get("aria-label") and "<title>" in svg
        assert not {"image", "use", "script", "foreignobject"} & {t for t, _ in parsed.tags}


def test_every_drawing_is_a_side_view_on_the_same_floor(rulebook):
    """Issue 10, item 13: every stretch is drawn from the side, lying, kneeling or standing on
    the same floor line (lying knee rolls were drawn from above, with no floor)."""
    floors = set()
    for stretch in rulebook.stretches.values():
        svg = (templates_dir() / "drawings" / f"{stretch.drawing}.svg").read_text(encoding="utf-8")
        parsed = Page(svg)
        root = parsed.tags[0][1]
        label = root["aria-label"].lower()
        assert "from above" not in label and "top view" not in label, stretch.id
        lines = [a for t, a in parsed.tags if t == "line" and a.get("y1") == a.get("y2")]
        assert lines, f"{stretch.id}: no floor line"
        floors.add(lines[0]["y1"])
    assert len(floors) == 1, floors


# --------------------------------------------------------------------------- one set of facts

def facts_to_find(result, rulebook):
    """What the report must say, computed from the assessment and the rulebook."""
    facts = report_facts(result, rulebook, today=DAY)
    found = [facts["verdict"]["headline"], facts["verdict"]["when"], *facts["verdict"]["todo"],
             facts["duration"]["label"] if facts["show_duration"] else "",
             facts["date_long"], facts["rulebook"]["version"],
             facts["not_this"], *facts["clinician"]]
    found += [c["label"] for c in facts["causes"]] + [f["label"] for f in facts["red_flags"]]
    for card in (facts["plan"] or {}).get("cards", []):
        found += [card["name"], card["target"], card["hold"], card["repetitions"], *card["steps"],
                  *card["cautions"], *card["extra_stop_if"]]
    found += (facts["plan"] or {}).get("shared_stop_if", [])
    for reason in facts["reasons"]:
        found += [reason["id"], reason["title"], reason["rationale"]]
    for net in facts["safety_net"]:
        found += [net["title"], *net["signs"]]
    for section in facts["answers"]:
        for row in section["rows"]:
            found += [row["label"], row["answer"]]
        found += section["unknown"] + section["blank"]
    found += facts["notes"].splitlines()
    return [squash(f) for f in found if f]


def plain(text: str, fmt: str) -> str:
    if fmt == "html":
        return Page(text).text
    if fmt == "markdown":
        text = re.sub(r"\\(.)", r"\1", text.replace("**", "").replace("`", ""))
        text = re.sub(r"(?<![\w*])\*(?!\s)|(?<!\s)\*(?![\w*])", "", html.unescape(text))
        return squash(re.sub(r"^\s*> ?", "", text, flags=re.MULTILINE))
    # text: wrapped lines, notes quoted with "| "
    return squash(re.sub(r"^\s*\| ", "", text, flags=re.MULTILINE))


@pytest.mark.parametrize("urgency", list(CASES))
def test_markdown_and_text_say_everything_the_html_says(rulebook, urgency):
    result = assessed({**CASES[urgency], "notes": "Worse after long meetings.\nBetter after a walk."},
                      rulebook)
    wanted = facts_to_find(result, rulebook)
    for fmt in ("html", "markdown", "text"):
        said = plain(render_report(result, rulebook, fmt, today=DAY), fmt)
        missing = [fact for fact in wanted if fact not in said]
        assert missing == [], (fmt, missing)


def test_the_text_report_fits_a_terminal(rulebook):
    result = assessed(CASES["self_care"], rulebook)
    lines = render_report(result, rulebook, "text", today=DAY).splitlines()
    assert max(len(line) for line in lines) <= 78


# --------------------------------------------------------------------------- the command line

def run(args, **kwargs):
    return CliRunner().invoke(main_group, args, catch_exceptions=False, **kwargs)


@pytest.mark.parametrize("suffix, first_line", [
    (".html", "<!DOCTYPE html>"), (".htm", "<!DOCTYPE html>"),
    (".md", "# Back pain triage report"), (".txt", "BACK PAIN TRIAGE REPORT")])
def test_report_picks_the_format_from_the_suffix(tmp_path, suffix, first_line):
    out = tmp_path / f"report{suffix}"
    result = run(["report", str(EXAMPLE), "-o", str(out), "--date", "2026-11-24"])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith(first_line)
    assert "24 November 2026" in text
    assert str(out) in result.stderr


def test_format_option_wins_over_the_suffix_and_dash_is_standard_output(tmp_path):
    result = run(["report", "-", "-o", "-", "--format", "markdown"],
                 input=EXAMPLE.read_text(encoding="utf-8"))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# Back pain triage report")
    out = tmp_path / "notes.txt"
    assert run(["report", str(EXAMPLE), "-o", str(out), "--format", "html"]).exit_code == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("output, fragment", [
    ("report.docx", "'.docx'"), ("report", "(none)")])
def test_an_unknown_suffix_is_exit_2_naming_the_file(tmp_path, output, fragment):
    result = run(["report", str(EXAMPLE), "-o", str(tmp_path / output)])
    assert result.exit_code == 2
    assert output in result.stderr and fragment in result.stderr and "--format" in result.stderr
    assert not (tmp_path / output).exists()


def test_standard_output_needs_a_format(tmp_path):
    result = run(["report", str(EXAMPLE), "-o", "-"])
    assert result.exit_code == 2 and "--format" in result.stderr and result.stdout == ""


def test_invalid_answers_leave_an_existing_report_untouched(tmp_path):
    out = tmp_path / "report.html"
    out.write_text("the old report", encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text("age: 40\nduration_weeks: 2\ntrauma: none\nsadle_numbness: no\n")
    result = run(["report", str(bad), "-o", str(out)])
    assert result.exit_code == 2
    assert "sadle_numbness" in result.stderr and "saddle_numbness" in result.stderr
    assert out.read_text(encoding="utf-8") == "the old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "report.html"]


def test_a_directory_that_does_not_exist_is_exit_2_not_a_crash(tmp_path):
    out = tmp_path / "missing" / "report.html"
    result = run(["report", str(EXAMPLE), "-o", str(out)])
    assert result.exit_code == 2 and str(out) in result.stderr


def test_pdf_without_weasyprint_is_exit_2_saying_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import weasyprint now fails
    out = tmp_path / "report.pdf"
    result = run(["report", str(EXAMPLE), "-o", str(out)])
    assert result.exit_code == 2
    assert "pip install 'triage[pdf]'" in result.stderr
    assert not out.exists()


def test_a_bad_date_is_a_usage_error():
    result = run(["report", str(EXAMPLE), "-o", "-", "--format", "text", "--date", "24/11/2026"])
    assert result.exit_code == 2 and "--date" in result.output


def test_assess_html_is_the_same_report(rulebook):
    result = run(["assess", str(EXAMPLE), "--format", "html"])
    assert result.exit_code == 0
    page = Page(result.stdout)
    assert page.errors == [] and "verdict-self_care" in result.stdout


def test_help_shows_examples():
    result = run(["report", "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output and "triage report" in result.output


# --------------------------------------------------------------------------- the PDF

@pytest.fixture(scope="module")
def pdf_reader():
    pytest.importorskip("weasyprint")
    return pytest.importorskip("pypdf").PdfReader


def pdf_text(reader) -> str:
    return squash(" ".join(page.extract_text() for page in reader.pages))


def handout_pages(reader) -> list:
    """The pages before the advice sheet (issue 25: risk and self-management advice on a page of
    their own at the end, so the handout keeps to its page budget). The advice sheet is at most
    one page, and only the last."""
    pages = list(reader.pages)
    starts = [n for n, page in enumerate(pages)
              if "Looking after your back" in page.extract_text()[:80]]
    if not starts:
        return pages
    assert starts == [len(pages) - 1], "the advice sheet is the last page, and one page only"
    return pages[:-1]


@pytest.mark.parametrize("case", ["example", "nonspecific", "emergency"])
def test_the_pdf_holds_the_verdict_and_the_stretches(tmp_path, rulebook, pdf_reader, case):
    answers = {"example": None, "nonspecific": NONSPECIFIC, "emergency": CASES["emergency"]}[case]
    if answers is None:
        from triage.cli.common import load_answers

        answers = load_answers(str(EXAMPLE), rulebook)
    result = assessed(answers, rulebook)
    out = tmp_path / "report.pdf"
    write_report(out, result, rulebook, today=DAY)
    assert out.read_bytes().startswith(b"%PDF-")
    reader = pdf_reader(str(out))
    text = pdf_text(reader)
    assert squash(VERDICTS[result.urgency]["headline"]) in text
    for stretch_id in result.stretches:
        assert rulebook.stretches[stretch_id].name in text
    assert re.search(r"Page 1 of \d", text)
    if result.urgency == "self_care":
        # A self-care report is a handout: it fits on two A4 pages (and the advice sheet).
        assert len(handout_pages(reader)) <= 2
        width, height = (float(v) for v in reader.pages[0].mediabox[2:])
        assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (210, 297)


def test_letter_paper_is_letter_sized(tmp_path, rulebook, pdf_reader):
    result = assessed(CASES["self_care"], rulebook)
    out = tmp_path / "report.pdf"
    write_report(out, result, rulebook, today=DAY, paper="letter")
    width, height = (float(v) for v in pdf_reader(str(out)).pages[0].mediabox[2:])
    assert (round(width), round(height)) == (612, 792)


def _answers_the_rules_tell_apart(rulebook) -> dict:
    """For each question, the answers the rules can tell apart: both booleans, every choice, and
    for a number the values on each side of every threshold a rule compares it with. Read from
    the rules and the questionnaire, so a new rule or question is searched too."""
    cuts: dict = {}
    for rule in rulebook.rules:
        for leaf in iter_leaves(rule.when):
            if isinstance(leaf, AnswerTest) and leaf.op not in ("equals", "in"):
                cuts.setdefault(leaf.question, set()).add(leaf.operand)
    values = {}
    for q in rulebook.questionnaire.questions.values():
        if q.type == "text" or q.section == "activities":
            # the person's notes are theirs; the page count is about what the rules say (the
            # activities of issue 25 are read by no rule, and their scores are shown only beside
            # an activity's name, which is text)
            continue
        if q.type in ("bool", "choice"):
            values[q.id] = list(q.values)
            continue
        low = q.min if q.min is not None else 0
        near = {low} | {cut + step for cut in cuts.get(q.id, ()) for step in (-1, 0, 1)}
        values[q.id] = sorted(v for v in near if v >= low and (q.max is None or v <= q.max))
    return values


def _fullest_report(rulebook, wanted):
    """The answers whose assessment `wanted` accepts with the most stretches, then the most
    reasons: the longest report of its kind. Starts from every vignette in tests/cases and a
    seeded sample of answers from the values the rules tell apart (warning-sign questions
    answered with a reassuring value), then changes one answer at a time while that lengthens
    the plan, so a combination the sample missed is still reached."""
    questionnaire = rulebook.questionnaire
    values = _answers_the_rules_tell_apart(rulebook)
    for qid in questionnaire.red_flag_questions:
        values[qid] = [v for v in values[qid] if v not in questionnaire.questions[qid].alarming]
    sample = random.Random(4)
    starts = [{q: v for q, v in vignette.answers.items() if q in values}
              for vignette in load_vignettes(CASES_DIR)]
    starts += [{q: sample.choice(vals) for q, vals in values.items()} for _ in range(600)]

    def size(answers):
        result = assess(answers, rulebook)
        return (len(result.stretches), len(result.reasons)) if wanted(result) else None

    sized = [(size(a), a) for a in starts]
    best_size, best = max(((k, a) for k, a in sized if k), key=lambda pair: pair[0])
    climbing = True
    while climbing:
        climbing = False
        for qid, vals in values.items():
            for value in vals:
                k = size({**best, qid: value})
                if k and k > best_size:
                    best_size, best, climbing = k, {**best, qid: value}, True
    return best


def _assert_fits_on_two_a4_pages(answers, rulebook, tmp_path, pdf_reader):
    """Two pages of A4, and (issue 10) of Letter too."""
    for paper, size in (("a4", (210, 297)), ("letter", (216, 279))):
        result = _assert_fits_on_two_pages(answers, rulebook, tmp_path, pdf_reader, paper, size)
    return result


def _assert_fits_on_two_pages(answers, rulebook, tmp_path, pdf_reader, paper, size):
    result = assess(answers, rulebook)
    out = tmp_path / "report.pdf"
    write_report(out, result, rulebook, today=DAY, paper=paper)
    reader = pdf_reader(str(out))
    assert len(handout_pages(reader)) <= 2, (
        f"{len(reader.pages)} {paper} pages (with the advice sheet) for a {result.urgency} report with "
        f"{len(result.stretches)} stretches and {len(result.reasons)} reasons; answers: {answers}")
    width, height = (float(v) for v in reader.pages[0].mediabox[2:])
    assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == size
    text = pdf_text(reader)
    for stretch_id in result.stretches:  # nothing was cut to make it fit
        assert rulebook.stretches[stretch_id].name in text
    for reason in result.reasons:
        assert reason.id in text
    return result


def test_the_fullest_self_care_report_still_fits_on_two_a4_pages(tmp_path, rulebook, pdf_reader):
    """Issue 4: a self-care report fits on two A4 pages, even the longest the rules can produce
    (today: a minor strain with every posture sign, six stretches and eleven reasons)."""
    answers = _fullest_report(rulebook, lambda result: result.urgency == "self_care")
    _assert_fits_on_two_a4_pages(answers, rulebook, tmp_path, pdf_reader)


def test_a_soon_report_without_warning_signs_fits_on_two_a4_pages(tmp_path, rulebook, pdf_reader):
    """The same two pages for the longest `soon` report where no warning sign was found and none
    was left unanswered (today: chronic pain after a minor strain with every posture sign, fear
    of movement and low mood). With a warning sign or unanswered warning-sign questions the
    report says more about them and may run to a third page."""
    def wanted(result):
        return (result.urgency == "soon" and not result.red_flags
                and not result.unanswered_red_flags)

    _assert_fits_on_two_a4_pages(_fullest_report(rulebook, wanted), rulebook, tmp_path,
                                 pdf_reader)


# --------------------------------------------------------------------------- one page (issue 10)

NOTES_500 = ("Kidney transplant in 2019, on tacrolimus and prednisolone. Temperature 38.4 this "
             "morning and shivery since last night. The pain woke me at 3 am. ") * 4
NOTES_500 = NOTES_500[:497].rsplit(" ", 1)[0] + " end"
assert len(NOTES_500) <= 500


def _firm_cases_from_the_rules(rulebook, urgency):
    """Every urgent or emergency case one rule raises on its own: each `fires:` example of each
    active rule that concludes `urgency`, as given (the other warning-sign questions left
    unanswered, so they are all listed as unknown) and with every other question answered (no
    other warning sign, every posture sign, fear of movement and low mood): the fullest reports
    of their kind. With 500 characters of notes, longest first by the text report's length."""
    questionnaire = rulebook.questionnaire
    full = {}
    for q in questionnaire.questions.values():
        if q.type == "text":
            continue
        if q.type == "bool":
            full[q.id] = not q.red_flag and q.id not in ("osteoporosis", "long_term_steroids")
        elif q.type == "choice":
            full[q.id] = next((v for v in q.values if v not in q.alarming), q.values[0])
    full.update({"age": 40, "duration_weeks": 2, "trauma": "none", "sitting_hours": 9})
    cases = []
    for rule in rulebook.active_rules:
        if rule.urgency != urgency:
            continue
        for example in rule.examples:
            if not example.fires:
                continue
            for answers in (dict(example.answers), {**full, **example.answers}):
                answers["notes"] = NOTES_500
                result = assess(answers, rulebook)
                if result.urgency == urgency and len(result.red_flags) <= 1:
                    text = render_report(result, rulebook, "text", today=DAY)
                    cases.append((len(text), rule.id, answers))
    assert cases, f"no rule example gives {urgency}"
    return sorted(cases, key=lambda case: case[0], reverse=True)


@pytest.mark.parametrize("paper, size", [("a4", (595, 842)), ("letter", (612, 792))])
@pytest.mark.parametrize("urgency", ["emergency", "urgent"])
def test_urgent_and_emergency_reports_fit_one_page_with_500_characters_of_notes(
        tmp_path, rulebook, pdf_reader, urgency, paper, size):
    """Issue 10, item 11: the four fullest reports a single rule's warning sign gives, at each
    urgency, on one page of A4 and of Letter, with nothing cut: the verdict, every warning sign,
    the notes, every reason shown, the safety net and what the report is not."""
    for _, rule_id, answers in _firm_cases_from_the_rules(rulebook, urgency)[:4]:
        result = assess(answers, rulebook)
        out = tmp_path / f"{rule_id}.pdf"
        write_report(out, result, rulebook, today=DAY, paper=paper)
        reader = pdf_reader(str(out))
        assert len(reader.pages) == 1, (rule_id, paper, answers)
        assert tuple(round(float(v)) for v in reader.pages[0].mediabox[2:]) == size
        text = pdf_text(reader)
        assert squash(VERDICTS[urgency]["headline"]) in text
        assert squash(NOTES_500) in text, "the notes are cut"
        for net in rulebook.safety_net:
            assert squash(net.title) in text
        assert "What this report is not" in text and "Page 1 of 1" in text
        for flag in result.red_flags:
            assert rulebook.label("red_flag", flag).split(" (")[0] in text
