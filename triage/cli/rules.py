"""`triage rules ...` and `triage explain`: read, check, test and change the rules without Python.

A thin click layer: each command parses its options, calls clinician/ (lint, impact, review, pack or
vignettes), and prints. Every user mistake is a TriageError (exit 2, one line).
"""
from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import textwrap

import click

from .common import (cache_choice, cache_option, fail_on_input_errors, load_answers, load_rules,
                     rules_option)
from ..errors import EXIT_INVALID, TriageError

WIDTH = 88

today_option = click.option(
    "--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, metavar="YYYY-MM-DD",
    help="The date to check review dates against (default: today).")


def _exit_invalid():
    """Exit 2 once the report has been printed (the problems are the output, not an error)."""
    raise click.exceptions.Exit(EXIT_INVALID)


def _today(value) -> _dt.date:
    return value.date() if value is not None else _dt.date.today()


def _find_rule(rulebook, rule_id: str):
    try:
        return rulebook.rule(rule_id)
    except KeyError:
        import difflib

        known = [r.id for r in rulebook.rules] + [i.id for i in getattr(rulebook, "instruments",
                                                                         ())]
        match = difflib.get_close_matches(rule_id.upper(), known, n=1)
        hint = f" (did you mean {match[0]}?)" if match else " (see `triage rules list`)"
        raise TriageError(f"no such rule{hint}", file=rulebook.directory, where=rule_id) from None


def _wrap(text: str, indent: str = "  ", hang: str | None = None) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent,
                         subsequent_indent=indent if hang is None else hang,
                         break_on_hyphens=False) or [indent]


# --------------------------------------------------------------------------- the group

@click.group(epilog="Examples:\n\n\b\n  triage rules list\n  triage rules show RF-CES-01\n"
                    "  triage rules check --rules my-rules\n"
                    "  triage rules test tests/cases --rules my-rules\n"
                    "  triage rules diff rules my-rules --cases clinic.jsonl\n"
                    "  triage rules doc -o review-pack.html\n\n"
                    "rules/README.md explains, for clinicians, how to read and change a rule.")
def rules():
    """Read, check, test and compare the rule files (for clinicians: no Python needed)."""


# --------------------------------------------------------------------------- list

LIST_COLUMNS = ("id", "title", "category", "urgency", "status", "version", "last reviewed")


@rules.command("list", epilog="Examples:\n\n\b\n  triage rules list\n"
                              "  triage rules list --category red_flag --status active\n"
                              "  triage rules list --format csv > rules.csv")
@click.option("--status", "statuses", multiple=True,
              type=click.Choice(["active", "draft", "retired"]),
              help="Only rules with this status (repeat for several).")
@click.option("--category", "categories", multiple=True, metavar="CATEGORY",
              help="Only rules of this category, e.g. red_flag, urgency, cause (repeatable).")
@click.option("--format", "output_format", type=click.Choice(["table", "csv", "json"]),
              default="table", show_default=True)
@rules_option
@fail_on_input_errors
def list_rules(statuses, categories, output_format, rules_dir):
    """Every rule in one table: id, title, category, urgency, status, version, last reviewed."""
    rulebook = load_rules(rules_dir)
    chosen = [r for r in rulebook.rules
              if (not statuses or r.status in statuses)
              and (not categories or r.category in categories)]
    rows = [(r.id, r.title, r.category, r.urgency or "-", r.status, str(r.version),
             str(r.reviewed_on or "never")) for r in chosen]
    if output_format == "json":
        click.echo(json.dumps([dict(zip([c.replace(" ", "_") for c in LIST_COLUMNS], row))
                               for row in rows], indent=2, ensure_ascii=False))
        return
    if output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([c.replace(" ", "_") for c in LIST_COLUMNS])
        writer.writerows(rows)
        click.echo(buffer.getvalue(), nl=False)
        return
    header = [c.upper() for c in LIST_COLUMNS]
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    for row in [header] + rows:
        click.echo("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())
    click.echo(f"\n{len(rows)} of {len(rulebook.rules)} rules ({rulebook.name} "
               f"{rulebook.version}).", err=True)


# --------------------------------------------------------------------------- show

@rules.command(epilog="Examples:\n\n\b\n  triage rules show RF-CES-01\n"
                      "  triage rules show DUR-CHRONIC-01 UR-CHRONIC-01 --rules my-rules\n"
                      "  triage rules show RF-AAA-01 --format json")
@click.argument("rule_ids", metavar="ID...", nargs=-1, required=True)
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@today_option
@rules_option
@fail_on_input_errors
def show(rule_ids, output_format, today, rules_dir):
    """One rule in plain words: its conditions, parameters, questions, rationale, references,
    and its examples with whether each passes."""
    from ..clinician.review import rule_card

    from ..clinician.screen import find_instrument, instrument_card, instrument_lines

    rulebook = load_rules(rules_dir)
    cards = []
    for rid in rule_ids:  # a rule, or a scored instrument (its id, e.g. RISK-SCREEN-01)
        instrument = find_instrument(rulebook, rid)
        if instrument is not None:
            cards.append(dict(instrument_card(instrument, rulebook, today=_today(today)),
                              kind="instrument"))
        else:
            cards.append(rule_card(_find_rule(rulebook, rid), rulebook, today=_today(today)))
    if output_format == "json":
        out = [card if card.get("kind") == "instrument"
               else dict(card, condition=card["condition"].to_dict()) for card in cards]
        click.echo(json.dumps(out if len(out) > 1 else out[0], indent=2, ensure_ascii=False))
        return
    click.echo("\n\n".join("\n".join(instrument_lines(card, _wrap))
                            if card.get("kind") == "instrument" else _card_text(card)
                            for card in cards))


def _card_text(card) -> str:
    from ..clinician.review import outline_lines

    lines = [f"{card['id']}  {card['title']}",
             f"  category {card['category']}, status {card['status']}, version {card['version']},"
             f" in {card['file']}"]
    if card["reviewed_on"]:
        overdue = " (OVERDUE)" if card["overdue"] else ""
        lines.append(f"  last reviewed {card['reviewed_on']} by {card['reviewed_by'] or 'unknown'}"
                     f"; next review due by {card['review_due']}{overdue}")
    else:
        lines.append("  never reviewed")
    lines += [""] + outline_lines(card["condition"], lead="Fires when")
    if card["waits_for"]:
        lines += _wrap("(decided only once these rules have all run, because it depends on what "
                       "they did or did not conclude: " + ", ".join(card["waits_for"]) + ")")
    lines += ["", "Then it concludes:"]
    lines += [f"  {c['kind'].replace('_', ' ')}: {c['value']} ({c['label']})"
              for c in card["concludes"]]
    if card["parameters"]:
        lines += ["", "Parameters (in rulebook.yaml):"]
        for p in card["parameters"]:
            lines += _wrap(f"{p['name']} = {p['value']} {p['unit']}: {p['description']}")
    lines += ["", "Questions it reads:"]
    lines += [f"  {q['id']}: {q['text']}" for q in card["questions"]] or ["  (none)"]
    lines += ["", "Rationale:"] + _wrap(card["rationale"])
    lines += ["", "References:"]
    for ref in card["references"]:
        lines += _wrap(f"- {ref}", hang="    ")
    lines += ["", "Examples:"]
    for e in card["examples"]:
        status = {True: "pass", False: "FAIL", None: "not run"}[e["passed"]]
        lines.append(f"  {status:<7} {e['kind']:<6} {e['answers']}")
        if e["detail"] and e["passed"] is False:
            lines += _wrap(e["detail"], indent="          ")
    if not card["examples"]:
        lines.append("  (none)")
    return "\n".join(lines)


# --------------------------------------------------------------------------- check

@rules.command(epilog="Examples:\n\n\b\n  triage rules check\n"
                      "  triage rules check --rules my-rules\n"
                      "  triage rules check --today 2027-06-01\n\n"
                      "Each problem is one line, FILE: RULE-ID: problem. Exit code 0 when there "
                      "is none, 2 otherwise.")
@today_option
@rules_option
@fail_on_input_errors
def check(today, rules_dir):
    """Check the rule files: schema, examples, rules that can never fire, red-flag questions no
    rule tests, review dates."""
    from ..clinician.lint import lint_directory

    report = lint_directory(rules_dir, today=_today(today))
    for problem in report.problems:
        click.echo(str(problem))
    click.echo(report.summary(), err=bool(report.problems))
    if report.problems:
        _exit_invalid()


# --------------------------------------------------------------------------- test

@rules.command("test", epilog="Examples:\n\n\b\n  triage rules test tests/cases\n"
                              "  triage rules test my-cases.yaml --rules my-rules --quiet\n\n"
                              "A vignette file lists cases, each with answers and the expected "
                              "outcome (see rules/README.md). Exit code 0 when every case passes, "
                              "2 otherwise.")
@click.argument("cases", metavar="CASES", type=click.Path(exists=True))
@click.option("--coverage/--no-coverage", default=True, show_default=True,
              help="List the active rules that no case makes fire.")
@click.option("-q", "--quiet", is_flag=True, help="List only the cases that fail.")
@rules_option
@fail_on_input_errors
def test_cases(cases, coverage, quiet, rules_dir):
    """Run vignette files (a file, or every *.yaml under a directory) against the rules."""
    from ..clinician.vignettes import check_vignette, expect_yaml, load_vignettes, suggested_expect

    rulebook = load_rules(rules_dir)
    vignettes = load_vignettes(cases)
    outcomes = [check_vignette(v, rulebook) for v in vignettes]
    for outcome in outcomes:
        v = outcome.vignette
        if outcome.error is not None:
            click.echo(f"ERROR {v.id} ({v.file}): {outcome.error}")
        elif not outcome.passed:
            click.echo(f"FAIL  {v.id} ({v.file})")
            for key, expected, actual in outcome.differences:
                click.echo(f"      {key}: expected {_show(expected)}, got {_show(actual)}")
            click.echo("      If the new outcome is right, replace the case's expect: block "
                       "with:")
            click.echo(expect_yaml(suggested_expect(outcome), indent=4), nl=False)
        elif not quiet:
            click.echo(f"pass  {v.id}")
    passed = sum(o.passed for o in outcomes)
    errors = sum(o.error is not None for o in outcomes)
    failed = len(outcomes) - passed - errors
    if coverage:
        fired = {rid for o in outcomes for rid in o.actual.get("fired", [])}
        silent = [r for r in rulebook.active_rules if r.id not in fired]
        active = len(rulebook.active_rules)
        click.echo(f"\nCoverage: {active - len(silent)} of {active} active rules fire in at least "
                   f"one case.")
        if silent:
            click.echo("No case makes these rules fire:")
            for r in silent:
                click.echo(f"  {r.id}  {r.title}")
    click.echo(f"\n{passed} passed, {failed} failed, {errors} errors, of {len(outcomes)} cases "
               f"({rulebook.name} {rulebook.version}).")
    if passed != len(outcomes):
        _exit_invalid()


def _show(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --------------------------------------------------------------------------- diff

@rules.command(epilog="Examples:\n\n\b\n  triage rules diff rules my-rules --cases clinic.jsonl\n"
                      "  triage rules diff rules my-rules --cases clinic.csv --format json\n"
                      "  cat clinic.jsonl | triage rules diff rules my-rules --cases -\n\n"
                      "The cases file is what `triage batch` reads: JSON lines or CSV, one column "
                      "per question id and an optional case_id.")
@click.argument("old_dir", metavar="OLD_DIR", type=click.Path(file_okay=False))
@click.argument("new_dir", metavar="NEW_DIR", type=click.Path(file_okay=False))
@click.option("--cases", "cases_path", required=True, metavar="FILE|-",
              help="The cases (JSONL or CSV of answers; '-' reads standard input).")
@click.option("--input-format", type=click.Choice(["auto", "jsonl", "csv", "tsv"]), default="auto",
              show_default=True, help="auto: by the file's suffix, else by its first character.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--max-cases", type=click.IntRange(min=0), default=100, show_default=True,
              help="Changed cases to list in the text output (0: all).")
@click.option("--workers", type=click.IntRange(min=0), default=1, show_default=True,
              help="Processes to use; 0 means one per CPU core.")
@cache_option
@fail_on_input_errors
def diff(old_dir, new_dir, cases_path, input_format, output_format, max_cases, workers,
         no_cache):
    """What changing the rules from OLD_DIR to NEW_DIR would change for a set of cases: how many
    change urgency, duration class, red flags, causes or stretches, and which."""
    from ..clinician.impact import compare

    old_rulebook = load_rules(old_dir)
    new_rulebook = load_rules(new_dir)
    impact = compare(old_rulebook, new_rulebook, cases_path, input_format=input_format,
                     old_name=old_dir, new_name=new_dir, workers=workers,
                     cache=cache_choice(no_cache))
    if output_format == "json":
        click.echo(json.dumps(impact.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(impact.text(max_cases=max_cases), nl=False)
    if impact.errors:
        click.echo(f"{len(impact.errors)} of {impact.cases} cases could not be assessed.",
                   err=True)
        _exit_invalid()


# --------------------------------------------------------------------------- doc

@rules.command(epilog="Examples:\n\n\b\n  triage rules doc -o review-pack.html\n"
                      "  triage rules doc -o review-pack.md --rules my-rules\n"
                      "  triage rules doc -o - --format markdown | less")
@click.option("-o", "--output", "output_path", required=True, metavar="FILE|-",
              help="Where to write the pack: .html or .md (written atomically; '-' prints it).")
@click.option("--format", "output_format", type=click.Choice(["html", "markdown"]), default=None,
              help="html or markdown (default: from the output file's suffix).")
@today_option
@rules_option
@fail_on_input_errors
def doc(output_path, output_format, today, rules_dir):
    """Generate the review pack: every rule as a card, the parameters, the questionnaire, the
    stretch catalogue and a sign-off table."""
    from ..errors import OutputError
    from ..fileio import atomic_write
    from ..clinician.pack import pack_format, render_review_pack

    fmt = pack_format(output_path, output_format)
    rulebook = load_rules(rules_dir)
    text = render_review_pack(rulebook, fmt, today=_today(today))
    try:
        atomic_write(output_path, text)
    except OutputError as exc:
        raise OutputError(exc.reason, file=exc.file, what="write the review pack") from None
    if output_path != "-":
        click.echo(f"Wrote the review pack of {len(rulebook.rules)} rules ({rulebook.name} "
                   f"{rulebook.version}) to {output_path}.", err=True)


# --------------------------------------------------------------------------- explain

@click.command(epilog="Examples:\n\n\b\n  triage explain answers.json\n"
                      "  triage explain answers.yaml --rule RF-AAA-01\n"
                      "  triage explain answers.json --all --rules my-rules\n"
                      "  cat answers.json | triage explain - --format json")
@click.argument("answers", metavar="FILE|-")
@click.option("--rule", "rule_ids", metavar="ID", multiple=True,
              help="Explain this rule in full, whether it fired or not (repeatable).")
@click.option("--all", "show_all", is_flag=True,
              help="List every rule that did not fire, not only the near misses.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@rules_option
@fail_on_input_errors
def explain(answers, rule_ids, show_all, output_format, rules_dir):
    """Why each conclusion was reached for one answers file, and which rules nearly fired
    (all but one of their conditions held)."""
    from ..clinician.review import explain_case

    rulebook = load_rules(rules_dir)
    raw = load_answers(answers, rulebook, validate=False)
    source = "<stdin>" if answers == "-" else answers
    case = explain_case(raw, rulebook, source=source)
    chosen = [_explanation(case, rulebook, _find_rule(rulebook, rid)) for rid in rule_ids]
    if output_format == "json":
        out = {"assessment": case.assessment.to_dict(),
               "conclusions": [{"kind": k, "value": v, "rules": ids}
                               for k, v, ids in case.drawn_by()],
               "rules": [r.to_dict() for r in (chosen or case.rules)]}
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    if chosen:
        click.echo("\n\n".join(_explain_rule_text(case, rulebook, r) for r in chosen))
        return
    click.echo(_explain_text(case, rulebook, show_all), nl=False)


def _explanation(case, rulebook, rule):
    """The explanation of one rule; a draft or retired rule (not run) is checked against what
    the active rules concluded."""
    from ..clinician.review import RuleExplanation, closest_alternative

    if rule.status == "active":
        return case.rule(rule.id)
    return RuleExplanation(rule, False, closest_alternative(rule.when, rulebook, case.answers,
                                                            case.findings))


def _explain_text(case, rulebook, show_all) -> str:
    from ..assessment import URGENCY_WORDS

    a = case.assessment
    lines = [URGENCY_WORDS[a.urgency], "",
             "Conclusions, and the rules that drew them:"]
    drawn = [(f"{kind.replace('_', ' ')} {value}", ids) for kind, value, ids in case.drawn_by()]
    pad = max((len(label) for label, _ in drawn), default=0)
    lines += [f"  {label:<{pad}}  <- {', '.join(ids)}" for label, ids in drawn]
    urgencies = sorted({v for k, v, _ in case.drawn_by() if k == "urgency"})
    if len(urgencies) > 1:
        lines.append(f"  The highest urgency concluded wins: {a.urgency} "
                     f"(of {', '.join(urgencies)}).")
    if a.review_in_days is not None:  # contract section 3 (version 3)
        sooner = any(k == "review" for k, _, _ in case.drawn_by())
        lines.append(f"  Review in {a.review_in_days} days if not clearly better (review_in_days: "
                     f"parameter {'review_days_sooner' if sooner else 'review_days'}).")
    else:
        lines.append(f"  No review date at urgency {a.urgency} (review_in_days: null).")
    lines += _screen_lines(rulebook, case)
    if a.urgency in ("urgent", "emergency") and any(k == "stretch" for k, _, _ in case.drawn_by()):
        lines.append(f"  No stretches are shown at urgency {a.urgency}.")
    if a.unanswered_red_flags:
        lines += _wrap("Unanswered warning-sign questions (unknown, not 'no'): "
                       + ", ".join(q.replace("_", " ") for q in a.unanswered_red_flags))
    lines += ["", "Rules that fired, in order, with the conditions that held:"]
    for rule_id in case.fired:
        r = case.rule(rule_id)
        lines.append(f"  {rule_id}  {r.rule.title}")
        for c in r.closest:
            lines += _wrap(f"{c.text}  [{c.seen}]", indent="      ", hang="        ")
    others = [r for r in case.rules if not r.fired and (show_all or r.near_miss)]
    lines += ["", ("Rules that did not fire (the alternative that came closest):" if show_all
                   else "Near misses (did not fire: all but one condition held):")]
    for r in others:
        lines.append(f"  {r.rule.id}  {r.rule.title}")
        for c in r.closest:
            mark = "held    " if c.met else "NOT MET "
            lines += _wrap(f"{mark}{c.text}  [{c.seen}]", indent="      ",
                           hang="              ")
    if not others:
        lines.append("  (none)")
    lines += ["", "`triage explain FILE --rule ID` shows one rule in full; --all lists every rule "
                  "that did not fire."]
    return "\n".join(lines) + "\n"


def _screen_lines(rulebook, case) -> list[str]:
    """The risk screen's reading of the case (triage/instrument.py): band, scores, and why."""
    from ..clinician.screen import screen_result

    result = screen_result(rulebook, case.answers)
    if result is None:
        return []
    a = case.assessment
    band = result["band"]
    lines = [f"  Risk screen {result['id']}"
             + ("" if result["validated"] else " (not validated)") + ":"]
    if result["scores"] is not None:
        lines += _wrap("scores " + ", ".join(f"{k} {v}" for k, v in result["scores"].items())
                       + "; points per item: " + ", ".join(
                           f"{i['question']} {i['points']}" for i in result["items"]),
                       indent="    ", hang="      ")
    elif result["unanswered"]:
        lines += _wrap("items not answered: " + ", ".join(result["unanswered"]),
                       indent="    ", hang="      ")
    instrument = rulebook.instrument
    if band is None:
        lines += _wrap("not scored: the unanswered items could change the band, so no band is "
                       "given (risk_group: null)", indent="    ", hang="      ")
    else:
        words = next(b for b in instrument.bands if b.band == band)
        from ..conditions import describe

        lines += _wrap(f"band {band} ({words.label}), because {describe(words.when)}",
                       indent="    ", hang="      ")
    if a.risk_group is None and band is not None:
        lines += _wrap(f"risk_group: null in the assessment, because at urgency {a.urgency} the "
                       f"person is seen first and the screen does not apply", indent="    ",
                       hang="      ")
    return lines


def _explain_rule_text(case, rulebook, explanation) -> str:
    from ..clinician.review import outline, outline_lines

    rule = explanation.rule
    lines = [f"{rule.id}  {rule.title}  (status {rule.status}, version {rule.version})"]
    if rule.status != "active":
        lines.append(f"  This rule is {rule.status}, so it does not run; it is shown against "
                     f"what the active rules concluded.")
    tree = outline(rule.when, rulebook, case.answers, case.findings)
    lines += [""] + outline_lines(tree, lead="Fires when", marks=True)
    concl = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in rule.then)
    if explanation.fired:
        lines += ["", f"It fired, concluding: {concl}."]
    elif rule.status != "active" and explanation.holds:
        lines += ["", f"Its conditions hold: if it were active it would fire, concluding: "
                      f"{concl}."]
    else:
        verb = "would not fire" if rule.status != "active" else "did not fire"
        lines += ["", f"It {verb}, so it did not conclude: {concl}.", "The closest it came:"]
        for c in explanation.closest:
            mark = "held    " if c.met else "NOT MET "
            lines += _wrap(f"{mark}{c.text}  [{c.seen}]", indent="  ", hang="          ")
    return "\n".join(lines)
