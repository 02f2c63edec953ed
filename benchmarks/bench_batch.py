"""How many cases per second `triage batch` handles, on the two workloads, side by side.

    python benchmarks/bench_batch.py                        # 100,000 cases of each workload
    python benchmarks/bench_batch.py --cases 20000 --repeat 1
    python benchmarks/bench_batch.py --workloads realistic --workers 1 2

For each workload (benchmarks/workloads.py: *realistic*, with its answer frequencies and their
sources, and *uniform*, the worst case for the decision cache) it writes the cases to a JSONL
file, then measures in the same run:

* ``triage batch IN -o OUT --workers N`` as a whole process (start-up, reading, validation, the
  engine for each distinct answer pattern, the cross-check, writing), for each N asked: wall time
  and the CPU time the process used; every N must write the same bytes;
* the decision cache's hit ratio on that file (the cache's own policy replayed on the cases'
  atom vectors);
* the plain-Python reading of the same rules (benchmarks/plain.py) on the same cases, and the
  ratio of the batch's time per case to it;
* ``--no-cache`` on the first ``--uncached`` cases (the engine on every case), whose output must
  be the first lines of the cached output, byte for byte.

Each figure is the best of ``--repeat`` runs, the usual way to time on a shared machine; the
machine's load average is printed with the results.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from plain import PlainReading  # noqa: E402  (the benchmarks' own helper modules)
from peak import run_measured  # noqa: E402
from workloads import generate  # noqa: E402

from triage.engine import decisions  # noqa: E402
from triage.rulebook import load_rulebook  # noqa: E402


def triage_command() -> list[str]:
    script = Path(sys.executable).with_name("triage")
    return [str(script)] if script.exists() else [sys.executable, "-m", "triage"]


def run_timed(command: list[str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in KiB of its largest process) of one command."""
    wall, cpu, peak, done = run_measured(command)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
    return wall, cpu, peak


def best(repeat: int, command: list[str]) -> tuple[float, float, int]:
    runs = [run_timed(command) for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs), max(r[2] for r in runs)


def hit_ratio(rulebook, cases) -> tuple[float, int]:
    """The cache's hit ratio on these cases (its own LRU policy and size), and the number of
    distinct atom vectors."""
    plan = decisions.AtomPlan(rulebook)
    cache = decisions.DecisionCache()
    keys = set()
    for answers in cases:
        key = plan.bits(decisions.facts_of(rulebook, plan.validator.validate(answers)))
        keys.add(key)
        if cache.get(key) is None:
            cache.put(key, True)
    return cache.hits / len(cases), len(keys)


def plain_seconds(rulebook, cases, repeat: int) -> float:
    """Seconds per case of the plain-Python reading (rules only, on validated answers), after
    checking that it fires what the engine fires."""
    from triage.engine import run_rules

    reading = PlainReading(rulebook)
    facts = [rulebook.with_derived(rulebook.questionnaire.validate(a)) for a in cases]
    for answers in cases[:200]:
        valid = rulebook.questionnaire.validate(answers)
        fired, _ = run_rules(valid, rulebook)
        assert set(fired) == reading.fired(rulebook.with_derived(valid))[0], answers
    times = []
    for _ in range(max(repeat, 3)):
        start = time.process_time()
        for f in facts:
            reading.fired(f)
        times.append(time.process_time() - start)
    return min(times) / len(cases)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000, help="cases per workload")
    parser.add_argument("--workloads", nargs="+", default=["realistic", "uniform"],
                        choices=["realistic", "uniform"])
    parser.add_argument("--workers", type=int, nargs="+", default=[1],
                        help="--workers values for triage batch (0: one per core)")
    parser.add_argument("--uncached", type=int, default=5_000,
                        help="cases for the --no-cache run (0: skip it)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per figure; the best counts")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)

    rulebook = load_rulebook()
    command = triage_command()
    rows = []
    notes = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        for workload in args.workloads:
            cases = generate(workload, rulebook.questionnaire, args.cases, seed=args.seed)
            path = tmp_dir / f"{workload}.jsonl"
            with path.open("w", encoding="utf-8") as handle:
                for number, answers in enumerate(cases, start=1):
                    handle.write(json.dumps({"case_id": f"case-{number}", **answers}) + "\n")
            plain = plain_seconds(rulebook, cases, args.repeat)
            ratio, distinct = hit_ratio(rulebook, cases)
            outputs = []
            for workers in args.workers:
                out = tmp_dir / f"{workload}-{workers}.jsonl"
                wall, cpu, rss = best(args.repeat, command + [
                    "batch", str(path), "-o", str(out), "--workers", str(workers),
                    "--no-progress"])
                outputs.append(out)
                rows.append((workload, f"batch --workers {workers}", len(cases), wall, cpu,
                             rss, ratio, wall / len(cases) / plain))
                print(f"  ({workload}, --workers {workers}: {len(cases) / wall:,.0f} cases/s, "
                      f"{len(cases) / cpu:,.0f} per CPU-second)", file=sys.stderr, flush=True)
            if any(o.read_bytes() != outputs[0].read_bytes() for o in outputs[1:]):
                raise SystemExit("different --workers values wrote different output")
            if args.uncached:
                sample = tmp_dir / f"{workload}-sample.jsonl"
                with path.open(encoding="utf-8") as src, sample.open("w", encoding="utf-8") as dst:
                    for _, line in zip(range(args.uncached), src):
                        dst.write(line)
                out = tmp_dir / f"{workload}-nocache.jsonl"
                wall, cpu, rss = best(1, command + ["batch", str(sample), "-o", str(out),
                                                    "--no-cache", "--no-progress"])
                with outputs[0].open("rb") as cached:
                    head = b"".join(line for _, line in zip(range(args.uncached), cached))
                if out.read_bytes() != head:
                    raise SystemExit("--no-cache wrote different output")
                rows.append((workload, "batch --no-cache", args.uncached, wall, cpu, rss, 0.0,
                             wall / args.uncached / plain))
            notes.append(f"{workload}: {distinct:,} distinct atom vectors in {len(cases):,} "
                         f"cases; plain-Python reading {plain * 1e6:.1f} µs a case")

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPU cores, load average {load}; "
          f"{len(rulebook.active_rules)} active rules, "
          f"{len(decisions.rule_atoms(rulebook.active_rules))} atoms; decision cache "
          f"{decisions.cache_size():,} entries")
    for note in notes:
        print(note)
    print()
    print("| workload | what | cases | wall s | cases/s | CPU s | cases per CPU-second "
          "| peak RSS MiB | cache hits | × plain Python |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for workload, what, count, wall, cpu, rss, ratio, times in rows:
        print(f"| {workload} | {what} | {count:,} | {wall:.2f} | {count / wall:,.0f} | "
              f"{cpu:.2f} | {count / cpu:,.0f} | {rss / 1024:.0f} | "
              f"{ratio:.1%} | {times:.0f} |")


if __name__ == "__main__":
    main()
