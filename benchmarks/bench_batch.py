"""How many cases per second `triage batch` and `assess` handle.

    python benchmarks/bench_batch.py                 # 10,000 cases, the full table
    python benchmarks/bench_batch.py --cases 2000    # quicker
    python benchmarks/bench_batch.py --workers 1 2 4

It generates random but valid answer sets from the shipped questionnaire (benchmarks/cases.py: red
flags rare, some questions unanswered, every urgency represented) into a temporary JSONL file, then
times:

* ``triage batch IN -o OUT --workers N`` as a whole process, for each N asked (default 1, 2 and 0,
  i.e. one per core), start-up and JSON reading and writing included; it checks that every N writes
  the same output;
* ``assess()`` in-process with the engine built once and reused (what ``triage batch`` does), and
  with a new engine built for every case (a smaller sample: it is slow), each followed by
  ``json.dumps`` of the result as the batch does.

Each figure is the best of ``--repeat`` runs (default 3), the usual way to time on a shared machine.
"""
from __future__ import annotations

import argparse
import filecmp
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cases import generate  # noqa: E402  (the benchmark's own helper module)

from triage import engine  # noqa: E402
from triage.rulebook import load_rulebook  # noqa: E402


def best_of(repeat: int, run) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def time_batch(path: Path, out_dir: Path, workers: int, repeat: int) -> tuple[float, Path]:
    out = out_dir / f"out-{workers}.jsonl"
    command = [sys.executable, "-m", "triage", "batch", str(path), "-o", str(out),
               "--workers", str(workers), "--no-progress"]

    def run():
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"triage batch failed ({done.returncode}): {done.stderr.strip()}")

    return best_of(repeat, run), out


def time_assess(cases: list, rulebook, repeat: int, rebuild: bool) -> float:
    def run():
        for answers in cases:
            if rebuild:
                engine._ENGINES.clear()  # the next assess builds the engine class and its network
            json.dumps(engine.assess(answers, rulebook).to_dict())

    engine.assess(cases[0], rulebook)  # first build outside the timing, for the reused case
    return best_of(repeat, run)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases in the batch file")
    parser.add_argument("--rebuilt", type=int, default=300,
                        help="cases for the engine-rebuilt-per-case timing")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 0],
                        help="--workers values for triage batch (0: one per core)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the best counts")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)

    rulebook = load_rulebook()
    cases = generate(rulebook.questionnaire, args.cases, seed=args.seed)
    cores = os.cpu_count() or 1
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        path = tmp_dir / "cases.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for number, answers in enumerate(cases, start=1):
                handle.write(json.dumps({"case_id": f"case-{number}", **answers}) + "\n")
        outputs = []
        for workers in args.workers:
            seconds, out = time_batch(path, tmp_dir, workers, args.repeat)
            outputs.append(out)
            used = workers or cores
            rows.append((f"triage batch --workers {workers}"
                         + (f" ({used} processes)" if workers == 0 else ""),
                         len(cases), seconds, len(cases) / seconds / used))
        if any(not filecmp.cmp(outputs[0], other, shallow=False) for other in outputs[1:]):
            raise SystemExit("different --workers values wrote different output")
        urgencies: dict[str, int] = {}
        with outputs[0].open(encoding="utf-8") as handle:
            for line in handle:
                urgency = json.loads(line).get("urgency", "error")
                urgencies[urgency] = urgencies.get(urgency, 0) + 1

    seconds = time_assess(cases, rulebook, args.repeat, rebuild=False)
    rows.append(("assess(), engine reused", len(cases), seconds, len(cases) / seconds))
    sample = cases[:args.rebuilt]
    seconds = time_assess(sample, rulebook, max(1, args.repeat - 2), rebuild=True)
    rows.append(("assess(), new engine per case", len(sample), seconds, len(sample) / seconds))

    print(f"Python {sys.version.split()[0]}, {cores} CPU cores, {len(rulebook.active_rules)} "
          f"active rules; cases by urgency: "
          + ", ".join(f"{k} {v}" for k, v in sorted(urgencies.items())))
    print()
    print("| what | cases | seconds | cases/s | cases/s per core |")
    print("|---|---:|---:|---:|---:|")
    for what, count, seconds, per_core in rows:
        print(f"| {what} | {count:,} | {seconds:.2f} | {count / seconds:,.0f} | {per_core:,.0f} |")


if __name__ == "__main__":
    main()
