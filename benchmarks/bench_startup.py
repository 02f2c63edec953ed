"""How long one `triage assess` takes as a whole process: start-up, imports, rule files, one case.

    python benchmarks/bench_startup.py              # 21 runs of: triage assess examples/desk_worker.yaml
    python benchmarks/bench_startup.py --runs 51 --format json

Prints the median (and the fastest and slowest) wall time of the runs, next to the time of a bare
``python -c pass`` on the same interpreter, measured side by side (the two alternate, so a busy
machine slows both alike), and of ``triage --help``, of the same answers as a JSON file, and of
``python -c "import click, yaml"``: what any click command reading YAML pays before it starts.
It runs the ``triage`` script installed beside this interpreter, as a user would, or ``python -m
triage`` when there is none. The target: a median within 6 times that of ``python -c pass``
(exit 1 otherwise). Measure a regular install (``pip
install .`` in a fresh virtual environment, then that environment's python): an editable one
flatters the ratio (see ``install_note``), and the script says which one it measured.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 6


def triage_command() -> list[str]:
    script = Path(sys.executable).with_name("triage")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "triage"]


CPU: dict = {}  # command -> CPU seconds of each run (user + system), beside the wall times


def wall_times(command: list[str], runs: int) -> list[float]:
    import resource

    times = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        CPU.setdefault(tuple(command), []).append(after.ru_utime - before.ru_utime
                                                  + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): "
                             f"{done.stderr.strip()}")
    return times


def install_note() -> str:
    """How triage is installed beside this interpreter, and why it matters here.

    An editable install (``pip install -e .``) puts a finder in site-packages that every Python
    start imports, ``python -c pass`` included (about 20 ms on the development machine), and its
    modules are compiled from source on every start when PYTHONDONTWRITEBYTECODE is set (as on the
    development machine). Both make the ratio look better than a user's: measure a regular
    ``pip install .`` in its own virtual environment."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        direct = distribution("triage").read_text("direct_url.json")
    except PackageNotFoundError:
        return "triage is not installed beside this interpreter (run from the source tree)"
    editable = bool(direct and json.loads(direct).get("dir_info", {}).get("editable"))
    if not editable:
        return "a regular install (compiled .pyc files; python -c pass imports no finder)"
    return ("an EDITABLE install: python -c pass includes its finder and, with "
            f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}, triage is "
            "compiled from source on each start; measure a regular `pip install .` instead")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--format", default="text", choices=["text", "json"])
    parser.add_argument("answers", nargs="?", default="examples/desk_worker.yaml",
                        help="answers file, relative to the repository (default: %(default)s)")
    args = parser.parse_args(argv)

    command = triage_command() + ["assess", args.answers, "--format", args.format]
    bare_command = [sys.executable, "-c", "pass"]
    help_command = triage_command() + ["--help"]
    # what any click command that reads YAML pays before doing anything: the floor of the ratio
    floor_command = [sys.executable, "-c", "import click, yaml"]
    # the same answers as a JSON file, which needs no YAML parser
    import tempfile

    import yaml

    with open(ROOT / args.answers, encoding="utf-8") as handle:
        answers = yaml.safe_load(handle)
    folder = tempfile.mkdtemp(prefix="bench-startup-")
    json_path = os.path.join(folder, Path(args.answers).stem + ".json")
    with open(json_path, "w", encoding="utf-8") as handle:
        json.dump(answers, handle)
    json_command = triage_command() + ["assess", json_path, "--format", args.format]
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    wall_times(command, 2)  # warm the file cache, the .pyc files and the rulebook cache first
    wall_times(json_command, 2)
    times, bare, helps, floor, json_times = [], [], [], [], []
    for _ in range(args.runs):  # side by side: one of each in turn
        bare += wall_times(bare_command, 1)
        times += wall_times(command, 1)
        helps += wall_times(help_command, 1)
        floor += wall_times(floor_command, 1)
        json_times += wall_times(json_command, 1)
    os.unlink(json_path)
    os.rmdir(folder)
    median, bare_median = statistics.median(times), statistics.median(bare)
    print(f"{' '.join(Path(c).name if i == 0 else c for i, c in enumerate(command))}: "
          f"median {median * 1000:.0f} ms (fastest {min(times) * 1000:.0f}, slowest "
          f"{max(times) * 1000:.0f}) over {args.runs} runs; python -c pass "
          f"{bare_median * 1000:.0f} ms (fastest {min(bare) * 1000:.0f}); ratio "
          f"{median / bare_median:.1f} (target {TARGET_RATIO}); triage --help "
          f"{statistics.median(helps) * 1000:.0f} ms")
    print(f"the same answers as JSON: median {statistics.median(json_times) * 1000:.0f} ms, ratio "
          f"{statistics.median(json_times) / bare_median:.1f}; python -c 'import click, yaml' "
          f"(the floor for a YAML answers file) {statistics.median(floor) * 1000:.0f} ms, ratio "
          f"{statistics.median(floor) / bare_median:.1f}")
    print(f"installed as: {install_note()}")
    cpu = statistics.median(CPU[tuple(command)])
    bare_cpu = statistics.median(CPU[tuple(bare_command)])
    print(f"CPU time (user + system), medians: triage assess {cpu * 1000:.0f} ms, python -c pass "
          f"{bare_cpu * 1000:.0f} ms, ratio {cpu / bare_cpu:.1f}; triage --help "
          f"{statistics.median(CPU[tuple(help_command)]) * 1000:.0f} ms")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if median <= TARGET_RATIO * bare_median else 1


if __name__ == "__main__":
    sys.exit(main())
