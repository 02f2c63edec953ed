"""How long `triage rules diff` takes on many past cases, and whether its memory stays flat.

    python benchmarks/bench_diff.py                         # 1,000,000 realistic cases, 2 workers
    python benchmarks/bench_diff.py --cases 100000 200000 --workers 1 2

Generates the realistic workload (benchmarks/workloads.py) into a JSONL file, copies the shipped
rules with one parameter changed (default: long sitting from 6 to 7 hours, which moves a share of
the cases), and times ``triage rules diff rules NEW --cases FILE --workers N --format json`` as a
whole process: wall time, CPU time of the process and its workers, peak memory (resident set of
the largest process). Running it on several case counts shows whether memory grows with them
(the decision caches are bounded; the report itself holds every changed case).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from peak import run_measured  # noqa: E402
from workloads import generate  # noqa: E402

from triage.rulebook import load_rulebook  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--workers", type=int, nargs="+", default=[2])
    parser.add_argument("--parameter", default="long_sitting_hours=7",
                        help="NAME=VALUE: the change to the rules (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)

    name, value = args.parameter.split("=")
    rulebook = load_rulebook()
    script = Path(sys.executable).with_name("triage")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "triage"]
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPU cores, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}; rules change: {name} -> {value}")
    print()
    print("| cases | workers | wall s | cases/s | CPU s | peak RSS MiB | changed |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        new_rules = tmp_dir / "new-rules"
        shutil.copytree(ROOT / "rules", new_rules)
        meta = new_rules / "rulebook.yaml"
        text = meta.read_text(encoding="utf-8")
        changed, count = re.subn(rf"(\n  {re.escape(name)}:\n(?:    .*\n)*?    value: )[^\n]+",
                                 rf"\g<1>{value}", text, count=1)
        if not count:
            raise SystemExit(f"no parameter {name} in rules/rulebook.yaml")
        meta.write_text(changed, encoding="utf-8")
        for cases in args.cases:
            path = tmp_dir / f"cases-{cases}.jsonl"
            with path.open("w", encoding="utf-8") as handle:
                for number, answers in enumerate(
                        generate("realistic", rulebook.questionnaire, cases, seed=args.seed), 1):
                    handle.write(json.dumps({"case_id": f"case-{number}", **answers}) + "\n")
            for workers in args.workers:
                wall, cpu, peak, done = run_measured(
                    command + ["rules", "diff", str(ROOT / "rules"), str(new_rules), "--cases",
                               str(path), "--workers", str(workers), "--format", "json"])
                if done.returncode != 0:
                    raise SystemExit(f"rules diff failed ({done.returncode}): {done.stderr}")
                report = json.loads(done.stdout)
                print(f"| {cases:,} | {workers} | {wall:.1f} | {cases / wall:,.0f} | {cpu:.1f} | "
                      f"{peak / 1024:.0f} | {report['changed']:,} |", flush=True)
            path.unlink()


if __name__ == "__main__":
    main()
