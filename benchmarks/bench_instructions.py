"""Instructions per case of `triage batch`, counted by valgrind: a figure that load does not move.

    python benchmarks/bench_instructions.py                       # 20,000 realistic cases
    python benchmarks/bench_instructions.py --workload uniform --cases 10000
    python benchmarks/bench_instructions.py --compare ../old-checkout

On this shared virtual machine CPU time moves by up to a factor of two between runs of the same
code, so a change worth 10% cannot be seen in it without many runs. valgrind's callgrind counts
the instructions the process executes instead, which is the same on every run of the same code
and input. It runs about 50 times slower, so it is for comparing two versions side by side on
tens of thousands of cases, not for the targets (those are in cases per second:
bench_batch.py). Instructions are not time: C code that walks memory in a tight loop (orjson,
bytes.translate) does more per cycle than the interpreter does, so a change that moves work into
C gains more time than instructions.

Each version's `triage batch` runs once on the same generated cases, and once on a single case
(start-up: importing, reading the rules, building the engine); the difference divided by the
number of cases is the cost per case. --compare DIR runs the checkout in DIR the same way (its
triage package first on PYTHONPATH), both at once, one per core.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from workloads import generate  # noqa: E402

from triage.rulebook import load_rulebook  # noqa: E402


def instructions(tree: Path, cases_file: Path, work: Path) -> int:
    """Instructions executed by `triage batch cases_file` with the triage package of `tree`."""
    env = dict(os.environ, PYTHONPATH=str(tree), TRIAGE_CACHE_DIR=str(work / "cache"))
    program = ("import sys; sys.argv = ['triage', 'batch', sys.argv[1], '-o', sys.argv[2]]; "
               "from triage.cli import entry; entry()")
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={work / 'callgrind.out'}",
         sys.executable, "-c", program, str(cases_file), str(work / "out.jsonl")],
        env=env, cwd=work, capture_output=True, text=True, check=False)  # not the checkout:
    # `python -c` puts the working directory first on sys.path, before PYTHONPATH
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"valgrind or triage batch failed ({done.returncode}):\n"
                         f"{done.stderr[-2000:]}")
    return int(found.group(1))


def per_case(tree: Path, many: Path, one: Path, count: int, work: Path) -> float:
    work.mkdir(parents=True, exist_ok=True)
    return (instructions(tree, many, work) - instructions(tree, one, work)) / (count - 1)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="realistic", choices=["realistic", "uniform"])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--compare", type=Path, help="another checkout to count side by side")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install -y valgrind)")
    if args.cases < 2:
        raise SystemExit("--cases must be at least 2")

    rulebook = load_rulebook()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        many, one = tmp / "cases.jsonl", tmp / "one.jsonl"
        lines = [json.dumps({"case_id": f"case-{n}", **case}) for n, case in
                 enumerate(generate(args.workload, rulebook.questionnaire, args.cases,
                                    seed=args.seed), start=1)]
        many.write_text("\n".join(lines) + "\n")
        one.write_text(lines[0] + "\n")
        trees = {"this checkout": HERE.parent}
        if args.compare is not None:
            trees[str(args.compare)] = args.compare.resolve()
        print(f"{args.workload} workload, {args.cases:,} cases, counting with valgrind "
              f"(about 50 times slower than a normal run)...", file=sys.stderr)
        with ThreadPoolExecutor(max_workers=len(trees)) as pool:
            results = dict(zip(trees, pool.map(
                lambda item: per_case(item[1], many, one, args.cases, tmp / str(abs(hash(
                    item[0])))), trees.items())))
    print(f"| version | instructions per case ({args.workload}, {args.cases:,} cases) |")
    print("|---|---:|")
    for name, count in results.items():
        print(f"| {name} | {count:,.0f} |")
    if len(results) == 2:
        new, old = results.values()
        print(f"\nthis checkout: {100 * (new - old) / old:+.1f}% against {args.compare}")


if __name__ == "__main__":
    main()
