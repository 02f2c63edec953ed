"""`triage report`: the printable recommendation report of one answers file."""
from __future__ import annotations

import click

from .common import fail_on_input_errors, load_answers, load_rules, rules_option


@click.command(epilog="Examples:\n\n\b\n"
                      "  triage report answers.yaml -o report.html\n"
                      "  triage report answers.yaml -o report.pdf --paper letter\n"
                      "  triage report answers.json -o notes.md\n"
                      "  cat answers.json | triage report - -o - --format text\n"
                      "  triage report examples/desk_worker.yaml -o report.html --date 2026-11-24\n"
                      "  triage report my-back.json --follow-up -o course.html\n"
                      "  triage report my-back.json --follow-up --format fhir -o "
                      "my-back.fhir.json\n\n"
                      "The format follows the file's suffix (.html, .md, .txt, .pdf) unless "
                      "--format is given. PDF needs the optional extra: pip install 'triage[pdf]' "
                      "(from a checkout: pip install '.[pdf]'). "
                      "The file is written whole or not at all.\n\n"
                      "--follow-up: ANSWERS is a first visit's session file and its check-ins "
                      "(`triage ask --follow-up`) are in ANSWERS-check-ins.json (or --check-ins "
                      "FILE); the report is of the assessment now, with the course since the "
                      "first visit (a chart and a table in HTML and PDF, a table in Markdown and "
                      "text). --format fhir (or a .json file) writes instead one FHIR R4 Bundle: "
                      "a Patient, the follow-up CarePlan, and the first visit's and each "
                      "check-in's QuestionnaireResponse, each basedOn the CarePlan.")
@click.argument("answers", metavar="ANSWERS|-")
@click.option("-o", "--output", "output_path", required=True, metavar="FILE|-",
              help="Where to write the report ('-' for standard output, with --format).")
@click.option("--format", "output_format", default=None,
              type=click.Choice(["html", "markdown", "text", "pdf", "fhir"]),
              help="Report format (default: from the output file's suffix); fhir only with "
                   "--follow-up.")
@click.option("--paper", type=click.Choice(["a4", "letter"], case_sensitive=False), default=None,
              help="Page size for printing and PDF (default: the printer's; A4 for PDF).")
@click.option("--date", "report_date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              metavar="YYYY-MM-DD", help="Date printed on the report (default: today).")
@click.option("--follow-up", "follow_up", is_flag=True,
              help="Include the check-ins made after this first visit (see below).")
@click.option("--check-ins", "check_ins_file", metavar="FILE",
              help="With --follow-up: the check-ins file (default: ANSWERS-check-ins.json).")
@rules_option
@fail_on_input_errors
def report(answers, output_path, output_format, paper, report_date, follow_up, check_ins_file,
           rules_dir):
    """Write the printable report for one answers file (JSON or YAML; '-' reads standard input):
    the verdict first, then the stretch plan, a summary for the clinician, the reasons and the
    answers given."""
    from ..engine import assess_cached as assess  # engine results kept on disk (engine/store.py)
    from ..report import format_for_path, write_report

    if check_ins_file is not None:
        follow_up = True
    if follow_up:
        _follow_up_report(answers, output_path, output_format, paper, report_date,
                          check_ins_file, rules_dir)
        return
    if output_format == "fhir":
        raise click.BadParameter("fhir is the follow-up bundle: add --follow-up",
                                 param_hint="--format")

    fmt = format_for_path(output_path, output_format)  # a bad suffix fails before any work
    if fmt == "pdf":
        from ..report import check_pdf

        check_pdf()  # and so does a PDF without WeasyPrint
    rulebook = load_rules(rules_dir)
    valid = load_answers(answers, rulebook)
    result = assess(valid, rulebook, source=answers)
    write_report(output_path, result, rulebook, fmt,
                 today=report_date.date() if report_date else None, paper=paper)
    if output_path != "-":
        click.echo(f"Wrote {output_path} ({fmt}): {result.urgency.replace('_', '-')}.", err=True)


def _follow_up_report(answers, output_path, output_format, paper, report_date, check_ins_file,
                      rules_dir):
    """`triage report ANSWERS --follow-up`: the report now, with the course; or the FHIR Bundle."""
    import datetime as _dt
    import json
    from pathlib import Path

    from ..ask import check_ins_path, open_check_ins
    from ..fileio import atomic_write
    from ..followup import review_check_in
    from ..report import format_for_path, write_report
    from .common import InputError

    if answers == "-":
        raise click.BadParameter("with --follow-up, name the first visit's session file",
                                 param_hint="ANSWERS")
    fmt = output_format
    if fmt is None and output_path.lower().endswith(".json"):
        fmt = "fhir"
    if fmt != "fhir":
        fmt = format_for_path(output_path, fmt)
        if fmt == "pdf":
            from ..report import check_pdf

            check_pdf()
    if not Path(answers).is_file():
        raise InputError(f"{answers}: no such file; give the first visit's session file")
    path = check_ins_file or str(check_ins_path(answers))
    if not Path(path).is_file():
        raise InputError(f"{path}: no check-ins yet; check in with: triage ask --follow-up "
                         f"{answers}")
    today = report_date.date() if report_date else _dt.date.today()
    record, _, _ = open_check_ins(path, first_visit=None, today=today)
    rulebook = load_rules(rules_dir)
    first_answers = load_answers(answers, rulebook)
    if fmt == "fhir":
        from ..fhir import follow_up_bundle

        bundle = follow_up_bundle(first_answers, record, rulebook, today=today)
        atomic_write(output_path, json.dumps(bundle, indent=2, ensure_ascii=False) + "\n")
        if output_path != "-":
            count = len(bundle["entry"]) - 3  # Patient, CarePlan, the first visit
            click.echo(f"Wrote {output_path} (FHIR Bundle: the first visit and {count} "
                       f"check-in{'s' if count != 1 else ''}).", err=True)
        return
    outcome = review_check_in(first_answers, record.check_ins, rulebook, today,
                              first_visit=record.first_visit)
    write_report(output_path, outcome.assessment, rulebook, fmt, today=today, paper=paper,
                 follow_up=outcome)
    if output_path != "-":
        click.echo(f"Wrote {output_path} ({fmt}): {outcome.urgency.replace('_', '-')}"
                   + (f", up from {outcome.first.urgency.replace('_', '-')}"
                      if outcome.escalated else "") + ".", err=True)
