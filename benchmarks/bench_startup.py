"""How long one `triage assess` takes as a whole process: start-up, imports, rule files, one case.

    python benchmarks/bench_startup.py              # 21 runs of: triage assess examples/desk_worker.yaml
    python benchmarks/bench_startup.py --runs 51 --format json

Prints the median (and the fastest and slowest) wall time of the runs, next to the time of a bare
``python -c pass`` on the same interpreter for scale. It runs the ``triage`` script installed beside
this interpreter, as a user would, or ``python -m triage`` when there is none. The target is a median
under 0.25 s.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 0.25


def triage_command() -> list[str]:
    script = Path(sys.executable).with_name("triage")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "triage"]


def wall_times(command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): "
                             f"{done.stderr.strip()}")
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--format", default="text", choices=["text", "json"])
    parser.add_argument("answers", nargs="?", default="examples/desk_worker.yaml",
                        help="answers file, relative to the repository (default: %(default)s)")
    args = parser.parse_args(argv)

    command = triage_command() + ["assess", args.answers, "--format", args.format]
    wall_times(command, 2)  # warm the file cache and the .pyc files first
    times = wall_times(command, args.runs)
    bare = wall_times([sys.executable, "-c", "pass"], args.runs)
    median = statistics.median(times)
    print(f"{' '.join(Path(c).name if i == 0 else c for i, c in enumerate(command))}: "
          f"median {median * 1000:.0f} ms (fastest {min(times) * 1000:.0f}, slowest "
          f"{max(times) * 1000:.0f}) over {args.runs} runs; bare interpreter "
          f"{statistics.median(bare) * 1000:.0f} ms; target {TARGET_SECONDS * 1000:.0f} ms")
    return 0 if median < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
