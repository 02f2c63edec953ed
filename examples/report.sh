#!/usr/bin/env bash
# Regenerate the example reports (linked from docs/patients/report.md):
#   examples/report.html  examples/report.md  examples/report.pdf
#     the self-care report of examples/desk_worker.yaml;
#   examples/report-<urgency>.png
#     the first page of one A4 report per urgency: emergency.yaml, urgent.yaml, soon.yaml and
#     desk_worker.yaml (self-care).
# Needs the pdf extra (pip install '.[pdf]') and, for the pictures, pdftoppm (poppler-utils).
# The date is fixed so that the files only change when the report itself does.
set -euo pipefail
cd "$(dirname "$0")/.."
DATE=2026-11-24
for suffix in html md pdf; do
  triage report examples/desk_worker.yaml -o "examples/report.$suffix" --date "$DATE"
done
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for pair in emergency:emergency urgent:urgent soon:soon self_care:desk_worker; do
  urgency=${pair%%:*} answers=${pair#*:}
  triage report "examples/$answers.yaml" -o "$scratch/$urgency.pdf" --date "$DATE" --paper a4
  pdftoppm -png -r 80 -f 1 -l 1 -singlefile "$scratch/$urgency.pdf" "examples/report-$urgency"
done
