"""Load on `triage serve`: N simulated patients answering the questionnaire at once.

    python benchmarks/bench_web.py                       # 50 patients, SQLite, one server process
    python benchmarks/bench_web.py --patients 100 --workers 2 --max-seconds 60
    python benchmarks/bench_web.py --database postgresql+psycopg://...   # a database you started

Starts `triage serve` on 127.0.0.1 and a free port (a throwaway SQLite file unless --database),
then runs N patients concurrently, each a separate browser session: the start page, "Start now",
then for every question the page and the answer (the desk worker's answers, with a random
warning sign answered "not sure" now and then), the check page, "Get my assessment" and the
result. Bounded in count (one journey each) and in time (--max-seconds); sends traffic only to
127.0.0.1. Reports answers per second and the latency of an answer (the POST that stores it and
the GET of the page it leads to, what a person waits for after pressing Continue), p50 and p95.
The target on the 2-core development machine: at least 200 answers a second with p95 under
100 ms at 50 patients with SQLite. Exit status 1 when it is missed.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
DESK_WORKER = yaml.safe_load((ROOT / "examples" / "desk_worker.yaml").read_text())
TARGET_RATE, TARGET_P95 = 200.0, 0.100


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def form_value(value) -> str:
    if value is None:
        return "__not_sure__"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


class Stats:
    def __init__(self):
        self.answer_times: list[float] = []
        self.requests = 0
        self.errors: list[str] = []
        self.finished = 0


async def patient(base: str, stats: Stats, deadline: float, rng: random.Random) -> None:
    async with httpx.AsyncClient(base_url=base, follow_redirects=False, timeout=30) as client:
        await client.get("/")
        csrf = client.cookies.get("triage_csrf")
        response = await client.post("/start", data={"csrf_token": csrf})
        stats.requests += 2
        location = response.headers["location"]
        page = await client.get(location)
        stats.requests += 1
        while location.startswith("/question/") and time.monotonic() < deadline:
            qid = location.rsplit("/", 1)[1]
            value = DESK_WORKER.get(qid)
            if isinstance(value, bool) and rng.random() < 0.05:
                value = None  # not sure
            started = time.perf_counter()
            response = await client.post(location, data={"csrf_token": csrf,
                                                          "answer": form_value(value)})
            if response.status_code != 303:
                stats.errors.append(f"{qid}: {response.status_code}")
                return
            location = response.headers["location"]
            page = await client.get(location)
            stats.answer_times.append(time.perf_counter() - started)
            stats.requests += 2
            if page.status_code != 200:
                stats.errors.append(f"{location}: {page.status_code}")
                return
        if location == "/check-answers":
            response = await client.post("/submit", data={"csrf_token": csrf})
            result = await client.get(response.headers["location"])
            stats.requests += 2
            if result.status_code == 200:
                stats.finished += 1


async def run(base: str, patients: int, max_seconds: float, seed: int) -> tuple[Stats, float]:
    stats = Stats()
    deadline = time.monotonic() + max_seconds
    rng = random.Random(seed)
    started = time.perf_counter()
    await asyncio.gather(*(patient(base, stats, deadline, random.Random(rng.random()))
                           for _ in range(patients)))
    return stats, time.perf_counter() - started


def _reap(server: subprocess.Popen) -> float:
    """Wait for the server (killing it after 30 s) and return the CPU seconds it and its worker
    processes used: a figure that does not depend on what else the machine is doing."""
    import os

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pid, status, usage = os.wait4(server.pid, os.WNOHANG)
        if pid:
            server.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime
        time.sleep(0.1)
    server.kill()
    _, status, usage = os.wait4(server.pid, 0)
    server.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--database", default=None, help="SQLAlchemy URL (default: SQLite)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--format", choices=["text", "json"], default="text")
    args = parser.parse_args(argv)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as scratch:
        database = args.database or f"sqlite:///{scratch}/bench.sqlite3"
        log = open(Path(scratch) / "server.log", "w+")  # a file: a full pipe would stall it
        server = subprocess.Popen(
            [sys.executable, "-m", "triage", "serve", "--port", str(port), "--database", database,
             "--workers", str(args.workers)], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=log, text=True)
        try:
            for _ in range(600):
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=1)
                    break
                except OSError:
                    if server.poll() is not None:
                        log.seek(0)
                        raise SystemExit(f"the server did not start: {log.read()}")
                    time.sleep(0.1)
            client_cpu = time.process_time()
            stats, elapsed = asyncio.run(run(base, args.patients, args.max_seconds, args.seed))
            client_cpu = time.process_time() - client_cpu
        finally:
            server.send_signal(signal.SIGINT)
            server_cpu = _reap(server)
            log.seek(0)
            server_log = log.read()
            log.close()

    answers = len(stats.answer_times)
    rate = answers / elapsed if elapsed else 0.0
    p50 = percentile(stats.answer_times, 50) if answers else float("nan")
    p95 = percentile(stats.answer_times, 95) if answers else float("nan")
    met = rate >= TARGET_RATE and p95 < TARGET_P95 and not stats.errors
    report = {"patients": args.patients, "workers": args.workers,
              "database": "sqlite" if args.database is None else args.database.split(":")[0],
              "answers": answers, "finished_journeys": stats.finished,
              "requests": stats.requests, "seconds": round(elapsed, 2),
              "answers_per_second": round(rate, 1), "requests_per_second":
                  round(stats.requests / elapsed, 1) if elapsed else 0.0,
              "answer_p50_ms": round(p50 * 1000, 1), "answer_p95_ms": round(p95 * 1000, 1),
              "server_cpu_ms_per_answer": round(server_cpu / answers * 1000, 2) if answers else None,
              "client_cpu_seconds": round(client_cpu, 1),
              "load_average_1min": round(os.getloadavg()[0], 1),
              "errors": stats.errors[:5], "target_met": met}
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        print(f"{args.patients} patients, {args.workers} server process(es), "
              f"{report['database']}: {answers} answers ({stats.finished} journeys finished, "
              f"{stats.requests} requests) in {elapsed:.1f} s")
        print(f"  {rate:.0f} answers/s ({report['requests_per_second']:.0f} requests/s); "
              f"answer latency (POST + next page) p50 {p50 * 1000:.0f} ms, "
              f"p95 {p95 * 1000:.0f} ms")
        if answers:
            per_answer = server_cpu / answers
            print(f"  server CPU: {per_answer * 1000:.1f} ms per answer (its page included), so "
                  f"one free core serves about {1 / per_answer:.0f} answers/s; the load "
                  f"generator used {client_cpu:.1f} CPU s; load average "
                  f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"  target: at least {TARGET_RATE:.0f} answers/s with p95 under "
              f"{TARGET_P95 * 1000:.0f} ms: {'met' if met else 'MISSED'}")
        for error in stats.errors[:5]:
            print(f"  error: {error}")
        if stats.errors:
            print("  the server's log ends:\n" + "\n".join(server_log.splitlines()[-25:]))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
