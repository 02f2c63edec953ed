"""`triage report`: the printable recommendation report of one answers file."""
from __future__ import annotations

import click

from .common import fail_on_input_errors, load_answers, load_rules, rules_option


@click.command(epilog="Examples:\n\n\b\n"
                      "  triage report answers.yaml -o report.html\n"
                      "  triage report answers.yaml -o report.pdf --paper letter\n"
                      "  triage report answers.json -o notes.md\n"
                      "  cat answers.json | triage report - -o - --format text\n"
                      "  triage report examples/desk_worker.yaml -o report.html --date 2026-11-24\n\n"
                      "The format follows the file's suffix (.html, .md, .txt, .pdf) unless "
                      "--format is given. PDF needs the optional extra: pip install 'triage[pdf]' "
                      "(from a checkout: pip install '.[pdf]'). "
                      "The file is written whole or not at all.")
@click.argument("answers", metavar="ANSWERS|-")
@click.option("-o", "--output", "output_path", required=True, metavar="FILE|-",
              help="Where to write the report ('-' for standard output, with --format).")
@click.option("--format", "output_format", default=None,
              type=click.Choice(["html", "markdown", "text", "pdf"]),
              help="Report format (default: from the output file's suffix).")
@click.option("--paper", type=click.Choice(["a4", "letter"], case_sensitive=False), default=None,
              help="Page size for printing and PDF (default: the printer's; A4 for PDF).")
@click.option("--date", "report_date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              metavar="YYYY-MM-DD", help="Date printed on the report (default: today).")
@rules_option
@fail_on_input_errors
def report(answers, output_path, output_format, paper, report_date, rules_dir):
    """Write the printable report for one answers file (JSON or YAML; '-' reads standard input):
    the verdict first, then the stretch plan, a summary for the clinician, the reasons and the
    answers given."""
    from ..engine import assess_cached as assess  # engine results kept on disk (engine/store.py)
    from ..report import format_for_path, write_report

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
