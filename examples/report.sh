#!/usr/bin/env bash
# Regenerate the example report from examples/desk_worker.yaml (linked from the README):
#   examples/report.html  examples/report.md  examples/report.pdf  examples/report-page1.png
# Needs the pdf extra (pip install '.[pdf]') and, for the screenshot, pdftoppm (poppler-utils).
# The date is fixed so that the files only change when the report itself does.
set -euo pipefail
cd "$(dirname "$0")/.."
DATE=2026-11-24
for suffix in html md pdf; do
  triage report examples/desk_worker.yaml -o "examples/report.$suffix" --date "$DATE"
done
pdftoppm -png -r 80 -f 1 -l 1 -singlefile examples/report.pdf examples/report-page1
