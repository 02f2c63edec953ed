"""Start-up of one `triage assess` (issue 13, item 6): what a command imports, the engine results
kept on disk (triage/engine/store.py), and the quick exit of the `triage` command (cli.entry).

The time itself is measured by benchmarks/bench_startup.py, not here. What is proven here:

* `--help` and `--version` import neither the engine nor the rule readers nor Jinja; a repeated
  `triage assess` imports neither experta nor the engine;
* a result read back from disk gives the same assessment, field for field and in every output
  format, as the engine run uncached, on every vignette and on generated cases of both benchmark
  workloads; and every such result is cross-checked on the case's own answers, so a stored result
  that does not hold for the case (a tampered or corrupt file) is never used: the engine decides;
* a new rulebook (an edited rule file) never reads the results of another;
* `triage assess` ends quickly with its whole output and its exit code; other commands exit
  normally, with the garbage collector on.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from triage import cachedir, rules_cache
from triage.engine import decisions, rete as engine, store as engine_store
from triage.assessment import format_text
from triage.rulebook import load_rulebook
from triage.clinician.vignettes import load_vignettes

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from workloads import generate  # noqa: E402  (the benchmarks' own generators)

SHIPPED = load_rulebook()
CALM = {"age": 34, "duration_weeks": 2, "trauma": "none", "leg_pain": "none",
        "fever": False, "saddle_numbness": False, "bladder_bowel_change": False}


def _python(code: str, cwd=ROOT, env=None) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env=env)
    assert done.returncode == 0, done.stderr
    return done


HEAVY = ("experta", "triage.engine.rete", "triage.rulebook", "yaml", "jinja2", "sqlalchemy")


def _imported_by(args: list[str], cwd=ROOT, watch=HEAVY) -> list[str]:
    """The heavy modules a `triage` command imports, run in its own process (not counting those
    the interpreter had before: an editable install's finder imports pathlib at every start)."""
    code = (f"import sys\nbefore = set(sys.modules)\nsys.argv = ['triage'] + {args!r}\n"
            "from triage.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"print(sorted({{m.split('.')[0] if m.startswith(('experta', 'yaml', 'jinja2', "
            f"'sqlalchemy')) else m for m in set(sys.modules) - before "
            f"if m.startswith({watch!r})}}), file=sys.stderr)")
    return json.loads(_python(code, cwd=cwd).stderr.strip().splitlines()[-1].replace("'", '"'))


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["assess", "--help"]])
def test_help_and_version_import_neither_the_engine_nor_the_rule_readers(args):
    assert _imported_by(args) == []


def test_a_repeated_assess_imports_neither_experta_nor_the_engine(tmp_path):
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(CALM), encoding="utf-8")
    first = _imported_by(["assess", str(answers)])
    assert "experta" in first and "triage.engine.rete" in first  # decided by the engine...
    second = _imported_by(["assess", str(answers)], watch=HEAVY + ("pathlib", "shutil",
                                                                    "hashlib"))
    assert "experta" not in second and "triage.engine.rete" not in second  # ...then read back
    assert not {"pathlib", "shutil", "hashlib"} & set(second)  # paths by os.path, SHA-256 built in
    assert "jinja2" not in second  # the text format renders without Jinja
    assert "yaml" not in second  # a JSON answers file, the rulebook from its cache


# --------------------------------------------------------------------------- exactness

def _outputs(assessment) -> tuple:
    return (assessment, json.dumps(assessment.to_dict()),
            format_text(assessment, SHIPPED, width=78, source="a.json"))


class _EngineRuns:
    """Counts the experta runs (engine.run_rules) while installed."""

    def __init__(self, monkeypatch):
        self.count = 0
        original = engine.run_rules

        def counting(*args, **kwargs):
            self.count += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(engine, "run_rules", counting)


def _store_files() -> list[Path]:
    return sorted(cachedir.cache_dir().glob("engine-*/*.json"))


@pytest.mark.slow  # over 1 s each in the measured run: CI's run, not the quick loop
def test_every_vignette_read_back_from_disk_assesses_as_the_engine_does(monkeypatch):
    assert rules_cache.key_for(SHIPPED) is not None  # loaded through the rulebook cache
    vignettes = load_vignettes(ROOT / "tests" / "cases")
    assert len(vignettes) > 50
    expected = [_outputs(engine.assess(v.answers, SHIPPED, cache=False)) for v in vignettes]
    for vignette, want in zip(vignettes, expected):  # a first process: stores each result
        decisions.clear_caches()
        assert _outputs(engine_store.assess(vignette.answers, SHIPPED)) == want, vignette.id
    assert len(_store_files()) > 10
    runs = _EngineRuns(monkeypatch)
    for vignette, want in zip(vignettes, expected):  # later processes: read back from disk
        decisions.clear_caches()
        assert _outputs(engine_store.assess(vignette.answers, SHIPPED)) == want, vignette.id
    assert runs.count == 0


@pytest.mark.deep  # generated cases of both workloads through the disk store
@pytest.mark.parametrize("workload", ["realistic", "uniform"])
def test_generated_cases_read_back_from_disk_assess_as_the_engine_does(workload, monkeypatch):
    cases = generate(workload, SHIPPED.questionnaire, 600, seed=13)
    expected = [json.dumps(engine.assess(case, SHIPPED, cache=False).to_dict())
                for case in cases]
    for case, want in zip(cases, expected):
        assert json.dumps(engine_store.assess(case, SHIPPED).to_dict()) == want
    stored = len(_store_files())
    runs = _EngineRuns(monkeypatch)
    decisions.clear_caches()  # a new process: nothing decided in it yet
    for case, want in zip(cases, expected):
        assert json.dumps(engine_store.assess(case, SHIPPED).to_dict()) == want
    assert runs.count == 0 and len(_store_files()) == stored


def test_a_stored_result_is_the_engines_own_field_for_field():
    from triage.engine.decisions import facts_of, plan_for

    for case in (CALM, RED_FLAG) + tuple(generate("uniform", SHIPPED.questionnaire, 30, seed=5)):
        engine_store.assess(case, SHIPPED)
        plan = plan_for(SHIPPED)[0]
        valid = plan.validator.validate(case)
        bits = plan.bits(facts_of(SHIPPED, valid))
        own = engine._engine_result(SHIPPED, valid, bits)[0]
        stored = engine_store._read(engine_store._folder(SHIPPED), bits,
                                    {rule.id: rule for rule in SHIPPED.active_rules}, plan)
        assert stored is not None
        for name in ("fired", "findings", "outcome", "fired_mask", "evidence_mask"):
            assert getattr(stored, name) == getattr(own, name), name


def test_every_result_read_from_disk_is_cross_checked_on_the_case(monkeypatch):
    checked = []
    original = engine_store.check_fired_rules

    def counting(checks, answers, fired, findings):
        checked.append(answers["duration_weeks"])
        return original(checks, answers, fired, findings)

    monkeypatch.setattr(engine_store, "check_fired_rules", counting)
    engine_store.assess(CALM, SHIPPED)  # decided by the engine (its own cross-check)
    for weeks in (2, 3):  # the same atom vector, each in a "new process"
        decisions.clear_caches()
        engine_store.assess({**CALM, "duration_weeks": weeks}, SHIPPED)
    assert checked == [2, 3]


def _the_stored_file(case) -> Path:
    engine_store.assess(case, SHIPPED)
    files = _store_files()
    assert len(files) == 1
    decisions.clear_caches()
    return files[0]


RED_FLAG = {**CALM, "saddle_numbness": True}  # NICE NG59 1.1: cauda equina, an emergency


def test_a_stored_result_that_does_not_hold_for_the_case_is_never_used(monkeypatch):
    """A file that drops the red-flag rule (with its conclusions, so it is self-consistent) fails
    the cross-check on the case's own answers: the engine decides instead, and the file is
    written again."""
    want = _outputs(engine.assess(RED_FLAG, SHIPPED, cache=False))
    path = _the_stored_file(RED_FLAG)
    data = json.loads(path.read_text(encoding="utf-8"))
    fired = [r for r in data["fired"] if r.startswith(("DUR-", "UR-SELFCARE"))]
    rules = {rule.id: rule for rule in SHIPPED.active_rules}
    findings: dict = {}
    for rule_id in fired:
        for kind, value in rules[rule_id].then:
            findings.setdefault(kind, set()).add(value)
    data.update(fired=fired, findings={k: sorted(v) for k, v in findings.items()},
                outcome={**data["outcome"], "urgency": "self_care", "red_flags": []})
    path.write_text(json.dumps(data), encoding="utf-8")
    runs = _EngineRuns(monkeypatch)
    got = _outputs(engine_store.assess(RED_FLAG, SHIPPED))
    assert got == want and got[0].urgency == "emergency"
    assert runs.count == 1
    assert json.loads(path.read_text(encoding="utf-8"))["fired"] != fired  # written again


@pytest.mark.parametrize("damage", ["findings", "unknown rule", "garbage", "other bits"])
def test_a_damaged_stored_result_is_not_used(monkeypatch, damage):
    want = _outputs(engine.assess(RED_FLAG, SHIPPED, cache=False))
    path = _the_stored_file(RED_FLAG)
    data = json.loads(path.read_text(encoding="utf-8"))
    if damage == "findings":  # a conclusion no fired rule made (and no rule reads)
        data["findings"]["avoid_stretch"] = ["bird_dog"]
    elif damage == "unknown rule":
        data["fired"].append("NO-SUCH-RULE")
    elif damage == "other bits":
        data["bits"] = "1"
    path.write_text("{not json" if damage == "garbage" else json.dumps(data), encoding="utf-8")
    runs = _EngineRuns(monkeypatch)
    assert _outputs(engine_store.assess(RED_FLAG, SHIPPED)) == want
    assert runs.count == 1


def test_no_cache_and_no_rules_cache_bypass_the_stored_results(monkeypatch):
    _the_stored_file(CALM)
    runs = _EngineRuns(monkeypatch)
    engine_store.assess(CALM, SHIPPED, cache=False)
    assert runs.count == 1
    decisions.clear_caches()
    monkeypatch.setenv("TRIAGE_NO_RULES_CACHE", "1")
    engine_store.assess(CALM, SHIPPED)
    assert runs.count == 2


def test_an_edited_rule_file_never_reads_the_results_of_the_old_one(tmp_path, monkeypatch):
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    before = load_rulebook(rules)
    engine_store.assess(CALM, before)
    old_folder = engine_store._folder(before)
    assert old_folder is not None and os.listdir(old_folder)
    meta = rules / "rulebook.yaml"
    meta.write_text(meta.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    after = load_rulebook(rules)
    assert after is not before
    new_folder = engine_store._folder(after)
    assert new_folder is not None and new_folder != old_folder
    runs = _EngineRuns(monkeypatch)
    engine_store.assess(CALM, after)
    assert runs.count == 1 and os.listdir(new_folder)


def test_a_rulebook_not_loaded_from_rule_files_keeps_nothing_on_disk():
    changed = SHIPPED.replace(version="9999.1.1")
    assert engine_store._folder(changed) is None
    assert engine_store.assess(CALM, changed).rulebook_version == "9999.1.1"
    assert _store_files() == []


# --------------------------------------------------------------------------- compiled templates

def test_compiled_templates_are_kept_and_render_the_same(tmp_path):
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(RED_FLAG), encoding="utf-8")
    first = _triage("assess", str(answers), "--format", "html", cwd=tmp_path)
    kept = sorted(Path(cachedir.cache_folder(), "jinja").iterdir())
    assert kept and all(path.name.startswith("__jinja2_") for path in kept)
    second = _triage("assess", str(answers), "--format", "html", cwd=tmp_path)
    assert first.returncode == second.returncode == 0
    assert second.stdout == first.stdout and "</html>" in first.stdout
    assert sorted(Path(cachedir.cache_folder(), "jinja").iterdir()) == kept  # read back


def test_a_template_cache_folder_others_may_write_to_is_not_used(monkeypatch):
    from triage import templating

    assert templating._bytecode_cache() is not None
    folder = os.path.join(cachedir.cache_folder(), "jinja")
    os.chmod(folder, 0o777)
    assert templating._bytecode_cache() is None
    os.chmod(folder, 0o700)
    monkeypatch.setenv("TRIAGE_NO_RULES_CACHE", "1")
    assert templating._bytecode_cache() is None


# --------------------------------------------------------------------------- compiled code

def test_generated_code_read_back_from_disk_is_what_compile_gives():
    from triage import codecache

    source = "def f(_f):\n    return _f.get('age', 0) >= 50\n"
    first = codecache.compiled(source, "<f>")
    files = os.listdir(os.path.join(cachedir.cache_folder(), "code"))
    assert len(files) == 1
    again = codecache.compiled(source, "<f>")  # read back
    assert again == first == compile(source, "<f>", "exec") and again is not first
    namespace: dict = {}
    exec(again, namespace)
    assert namespace["f"]({"age": 52}) and not namespace["f"]({"age": 49})
    # another source, file name or mode is another file
    codecache.compiled(source.replace("50", "51"), "<f>")
    codecache.compiled(source, "<g>")
    codecache.compiled("1 + 1", "<f>", "eval")
    assert len(os.listdir(os.path.join(cachedir.cache_folder(), "code"))) == 4


def test_a_damaged_code_file_is_compiled_again():
    from triage import codecache

    source = "def f(_f):\n    return 1\n"
    codecache.compiled(source, "<f>")
    folder = os.path.join(cachedir.cache_folder(), "code")
    (path,) = [os.path.join(folder, name) for name in os.listdir(folder)]
    for damage in (b"", b"garbage", b"\xe3" * 40):
        with open(path, "wb") as handle:
            handle.write(damage)
        assert codecache.compiled(source, "<f>") == compile(source, "<f>", "exec")
        with open(path, "rb") as handle:  # and written again
            assert handle.read() != damage


def test_a_code_folder_others_may_write_to_is_not_used(tmp_path, monkeypatch):
    from triage import codecache

    folder = tmp_path / "shared"
    monkeypatch.setenv("TRIAGE_CACHE_DIR", str(folder))
    (folder / "code").mkdir(parents=True)
    os.chmod(folder / "code", 0o777)
    codecache.compiled("x = 1", "<x>")
    assert os.listdir(folder / "code") == []  # not written (nor read)
    assert not cachedir.private_folder(str(folder / "code"))


# --------------------------------------------------------------------------- records

def _records() -> dict:
    """Every record reachable from the shipped rulebook, an assessment, its evidence, its cause
    lines and the reading limits: class -> instances."""
    from triage import wording
    from triage.conditions import evaluate_with_evidence
    from triage.reading import Limits
    from triage.records import Record

    assessment = engine.assess(RED_FLAG, SHIPPED)
    roots = [SHIPPED, assessment, Limits(), wording.causes(assessment, SHIPPED)]
    roots += [evaluate_with_evidence(rule.when, SHIPPED.with_derived(RED_FLAG), {})[1]
              for rule in SHIPPED.rules]
    found: dict = {}
    seen: set = set()
    pending = list(roots)
    while pending:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, Record):
            found.setdefault(type(item), []).append(item)
            pending.extend(item._values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
    return found


def test_each_record_behaves_as_the_frozen_dataclass_it_replaces():
    """triage/records.py: equality, hashing, repr, no assignment, pickling (the rulebook cache),
    copying and replace, each compared with a dataclass of the same fields on real instances."""
    import copy
    import dataclasses
    import inspect
    import pickle

    records = _records()
    assert {cls.__name__ for cls in records} >= {
        "All", "AnyOf", "Not", "AnswerTest", "Unanswered", "FindingTest", "CountTest", "Quantity",
        "Arithmetic", "Derived", "Evidence", "Question", "Section", "Questionnaire", "Parameter",
        "Stretch", "Example", "RuleSpec", "SafetyNetLevel", "EmergencyWords", "Rulebook",
        "Reason", "Assessment", "Limits", "CauseLine"}
    for cls, instances in records.items():
        # the fields are exactly __init__'s arguments, in order
        assert tuple(inspect.signature(cls.__init__).parameters)[1:] == cls._fields, cls
        hashed = cls._fields if cls._hashed is None else cls._hashed
        reference = dataclasses.make_dataclass(
            cls.__name__, [(name, object, dataclasses.field(hash=None if name in hashed else False))
                           for name in cls._fields], frozen=True)
        for record in instances:
            values = record._values()
            twin = reference(*values)
            assert repr(record) == repr(twin)
            try:
                expected_hash = hash(twin)
            except TypeError:  # a list among the hashed fields: neither hashes
                with pytest.raises(TypeError):
                    hash(record)
            else:
                assert hash(record) == expected_hash
            again = cls(*values)
            assert again == record and not (again != record) and again is not record
            assert record != twin and record != values  # another class is never equal
            assert pickle.loads(pickle.dumps(record)) == record
            assert copy.copy(record) == record and copy.deepcopy(record) == record
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(record, cls._fields[0], None)
            with pytest.raises(dataclasses.FrozenInstanceError):
                delattr(record, cls._fields[-1])
            name = cls._fields[-1]
            assert record.replace(**{name: getattr(record, name)}) == record
    # a field that differs makes records unequal (the first, the last)
    rule = SHIPPED.rules[0]
    assert rule.replace(id="X") != rule and rule.replace(stratum=rule.stratum + 1) != rule
    # a default list or dict is a new one for each record (dataclasses' default_factory)
    from triage.assessment import Assessment

    first, second = (Assessment("self_care", "acute", [], [], [], []) for _ in range(2))
    assert first.answers == {} and first.posture_signs == []
    assert first.answers is not second.answers and first.posture_signs is not second.posture_signs


@pytest.mark.parametrize("columns", [None, "", "120", "0", "-5", "wide", " 90 "])
def test_the_terminal_width_is_what_shutil_would_say(monkeypatch, columns):
    """assessment._terminal_columns follows shutil.get_terminal_size without importing shutil."""
    from triage.assessment import _terminal_columns

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert _terminal_columns() == shutil.get_terminal_size((80, 24)).columns


def test_the_cache_keys_are_sha256_without_importing_hashlib():
    import hashlib

    for data in (b"", b"rules", bytes(range(256)) * 300):
        assert cachedir.sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
    digest = cachedir.sha256()
    digest.update(b"rule")
    digest.update(b"s")
    assert digest.hexdigest() == hashlib.sha256(b"rules").hexdigest()


# --------------------------------------------------------------------------- the quick exit

def _triage(*args, cwd, stdin=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "triage", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd, input=stdin)


@pytest.mark.parametrize("output_format", ["text", "json", "html"])
def test_assess_ends_with_its_whole_output_as_the_library_makes_it(tmp_path, output_format):
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(RED_FLAG), encoding="utf-8")
    for _ in range(2):  # decided by the engine, then read back from disk
        done = _triage("assess", str(answers), "--format", output_format, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        if output_format == "json":
            assert json.loads(done.stdout) == engine.assess(RED_FLAG, SHIPPED).to_dict()
        elif output_format == "html":
            assert done.stdout.rstrip().endswith("</html>")
        else:
            assert done.stdout.startswith("EMERGENCY")
            assert done.stdout.rstrip().endswith(f"Rulebook version {SHIPPED.version}.")


def test_assess_keeps_its_exit_code_and_message_for_a_user_mistake(tmp_path):
    done = _triage("assess", "-", cwd=tmp_path, stdin='{"age": "old"')
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("Error: ")


def test_assess_and_help_skip_the_normal_exit_and_other_commands_collect_garbage(tmp_path):
    code = ("import atexit, gc, sys\n"
            "atexit.register(lambda: print('normal exit, gc', gc.isenabled(), file=sys.stderr))\n"
            "sys.argv = ['triage'] + sys.argv[1:]\n"
            "from triage.cli import entry\n"
            "entry()\n")
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(CALM), encoding="utf-8")
    quick = subprocess.run([sys.executable, "-c", code, "assess", str(answers)],
                           capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert quick.returncode == 0
    assert quick.stdout.rstrip().endswith(f"Rulebook version {SHIPPED.version}.")
    assert "normal exit" not in quick.stderr
    for args in (["--help"], ["--version"]):  # no command ran: nothing to finish either
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                              text=True, timeout=120, cwd=tmp_path)
        assert done.returncode == 0 and done.stdout.strip() and done.stderr == ""
    assert "Usage: " in subprocess.run([sys.executable, "-c", code, "--help"],
                                       capture_output=True, text=True, cwd=tmp_path).stdout
    other = subprocess.run([sys.executable, "-c", code, "questions", "--format", "json"],
                           capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert other.returncode == 0 and json.loads(other.stdout)
    assert other.stderr.strip() == "normal exit, gc True"
