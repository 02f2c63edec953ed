"""Load on `triage serve`: N simulated patients answering the questionnaire at once.

    pip install '.[bench]'                               # aiohttp, the load generator's client
    python benchmarks/bench_web.py                       # 50 patients, SQLite, one server process
    python benchmarks/bench_web.py --workers 2
    python benchmarks/bench_web.py --think-ms 0          # saturation: the server's maximum rate
    python benchmarks/bench_web.py --database postgresql+psycopg://...   # a database you started

Starts `triage serve` on 127.0.0.1 and a free port (a throwaway SQLite file unless --database)
and keeps N patients answering at once for --seconds after a --warmup, each its own browser
session with its own connection and cookies: the start page, "Start now", then for every question
the page and the answer (the desk worker's answers, a warning sign answered "not sure" now and
then), the check page, "Get my assessment" and the result; when a journey ends, the next patient
takes its place. Sends traffic only to 127.0.0.1; bounded in time (warm-up plus --seconds, then
the patients still on the way stop) and in count (N at once).

**Think time.** A person reads a page before answering it. After each page arrives a patient
pauses for a random time (exponential, mean --think-ms) before sending the answer. The default
follows from the target itself: 50 patients giving at least 200 answers a second is one answer
per patient every 250 ms; each cycle is the pause plus the answer's latency, so a mean pause of
200 ms leaves a 50 ms allowance for the mean latency. A server whose mean answer takes longer
than 50 ms therefore misses the rate target: the pause cannot hide a slow server. The measured
rate is what the patients really offered and got served. --think-ms 0 answers the moment a page
arrives (a closed loop at saturation: the server's maximum rate, where latency is patients / rate
by Little's law).

Reports answers per second and the latency of an answer (the POST that stores it and the GET of
the page it leads to: what a person waits for after pressing Continue), p50 and p95; the server's
CPU per answer (all its processes, over the measured window: the figure least disturbed by other
work on the machine); the load generator's own CPU; the load average before the run. The target
on the 2-core development machine: at least 200 answers a second with p95 under 100 ms at 50
patients with SQLite. Exit status 1 when it is missed (always at --think-ms 0, by Little's law).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

try:
    import aiohttp
except ImportError:  # pragma: no cover - a message, not a traceback
    sys.exit("bench_web.py needs aiohttp: pip install '.[bench]'")

ROOT = Path(__file__).resolve().parent.parent
DESK_WORKER = yaml.safe_load((ROOT / "examples" / "desk_worker.yaml").read_text())
TARGET_RATE, TARGET_P95, TARGET_PATIENTS = 200.0, 0.100, 50
# one answer per patient every 250 ms (50 patients, 200 answers/s), less a 50 ms latency allowance
DEFAULT_THINK_MS = 1000 * TARGET_PATIENTS / TARGET_RATE - 50


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
        self.window: tuple[float, float] = (0.0, 0.0)  # the measured window (perf_counter)
        self.answers: list[tuple[float, float]] = []  # (finished at, latency in seconds)
        self.thought: list[float] = []
        self.errors: list[str] = []
        self.journeys = 0

    def measured(self) -> list[float]:
        start, end = self.window
        return [latency for done, latency in self.answers if start <= done < end]


async def journey(session: aiohttp.ClientSession, stats: Stats, stop: float, think: float,
                  rng: random.Random) -> None:
    """One patient from the start page to the result (or until `stop`)."""
    async with session.get("/") as page:
        await page.read()
    csrf = session.cookie_jar.filter_cookies(session._base_url)["triage_csrf"].value
    async with session.post("/start", data={"csrf_token": csrf}, allow_redirects=False) as r:
        location = r.headers["location"]
    async with session.get(location) as page:
        await page.read()
    while location.startswith("/question/"):
        if think:
            pause = rng.expovariate(1 / think)
            stats.thought.append(pause)
            await asyncio.sleep(pause)
        if time.perf_counter() >= stop:
            return
        qid = location.rsplit("/", 1)[1]
        value = DESK_WORKER.get(qid)
        if isinstance(value, bool) and rng.random() < 0.05:
            value = None  # not sure
        started = time.perf_counter()
        async with session.post(location, data={"csrf_token": csrf, "answer": form_value(value)},
                                allow_redirects=False) as r:
            await r.read()
            if r.status != 303:
                stats.errors.append(f"POST {location}: {r.status}")
                return
            location = r.headers["location"]
        async with session.get(location) as page:
            await page.read()
            status = page.status
        finished = time.perf_counter()
        stats.answers.append((finished, finished - started))
        if status != 200:
            stats.errors.append(f"GET {location}: {status}")
            return
    if location == "/check-answers":
        async with session.post("/submit", data={"csrf_token": csrf}) as result:
            await result.read()
            if result.status == 200:
                stats.journeys += 1
            else:
                stats.errors.append(f"submit: {result.status}")


async def patient(base: str, stats: Stats, stop: float, think: float, rng: random.Random) -> None:
    """A slot for one patient at a time: journeys back to back until `stop`, each a new person
    (new cookies, a new connection)."""
    while time.perf_counter() < stop and len(stats.errors) < 20:
        jar = aiohttp.CookieJar(unsafe=True)  # unsafe: accept cookies from an IP address
        async with aiohttp.ClientSession(base_url=base, cookie_jar=jar,
                                         timeout=aiohttp.ClientTimeout(total=30)) as session:
            try:
                await journey(session, stats, stop, think, rng)
            except (aiohttp.ClientError, asyncio.TimeoutError, KeyError) as exc:
                stats.errors.append(f"{type(exc).__name__}: {exc}")


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by `pid` and its living descendants (uvicorn's
    worker processes), from /proc."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    tree, grew = {pid}, True
    while grew:
        grew = False
        for child, parent in parents.items():
            if parent in tree and child not in tree:
                tree.add(child)
                grew = True
    return sum(times.get(p, 0.0) for p in tree)


async def run(base: str, patients: int, seconds: float, warmup: float, think: float, seed: int,
              server_pid: int | None) -> dict:
    stats = Stats()
    rng = random.Random(seed)
    begin = time.perf_counter()
    stop = begin + warmup + seconds
    tasks = [asyncio.ensure_future(patient(base, stats, stop, think, random.Random(rng.random())))
             for _ in range(patients)]
    await asyncio.sleep(warmup)
    cpu = (process_tree_cpu(server_pid) if server_pid else 0.0, time.process_time())
    window_start = time.perf_counter()
    await asyncio.sleep(max(0.0, stop - time.perf_counter()))
    window_end = time.perf_counter()
    cpu = (process_tree_cpu(server_pid) - cpu[0] if server_pid else None,
           time.process_time() - cpu[1])
    stats.window = (window_start, window_end)
    await asyncio.wait(tasks, timeout=35)  # the patients on the way stop at their next answer
    for task in tasks:
        task.cancel()
    return {"stats": stats, "seconds": window_end - window_start, "server_cpu": cpu[0],
            "client_cpu": cpu[1]}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def wait_until_up(base: str, server: subprocess.Popen | None, log) -> None:
    for _ in range(600):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            return
        except OSError:
            if server is not None and server.poll() is not None:
                log.seek(0)
                raise SystemExit(f"the server did not start: {log.read()}")
            time.sleep(0.1)
    raise SystemExit(f"{base} did not answer /healthz within a minute")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=TARGET_PATIENTS,
                        help="patients answering at once (default: %(default)s)")
    parser.add_argument("--think-ms", type=float, default=DEFAULT_THINK_MS,
                        help="mean pause (exponential) between a page arriving and its answer; "
                             "0: none, the server's maximum rate (default: %(default)g)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (default: 1)")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="the measured window (default: %(default)g)")
    parser.add_argument("--warmup", type=float, default=3.0,
                        help="seconds of load before the window opens (default: %(default)g)")
    parser.add_argument("--database", default=None, help="SQLAlchemy URL (default: SQLite)")
    parser.add_argument("--url", default=None,
                        help="drive a server already running on 127.0.0.1 (e.g. under a "
                             "profiler) instead of starting one; no server CPU figure then")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--format", choices=["text", "json"], default="text")
    args = parser.parse_args(argv)
    if args.url and urllib.parse.urlsplit(args.url).hostname not in ("127.0.0.1", "localhost"):
        parser.error("--url: only a server on this machine (http://127.0.0.1:PORT)")

    load_before = os.getloadavg()[0]
    server_log = ""
    with tempfile.TemporaryDirectory() as scratch:
        server = None
        if args.url:
            base = args.url.rstrip("/")
            wait_until_up(base, None, None)
        else:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            database = args.database or f"sqlite:///{scratch}/bench.sqlite3"
            log = open(Path(scratch) / "server.log", "w+")  # a file: a full pipe would stall it
            server = subprocess.Popen(
                [sys.executable, "-m", "triage", "serve", "--port", str(port), "--database",
                 database, "--workers", str(args.workers)], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=log, text=True)
        try:
            if server is not None:
                wait_until_up(base, server, log)
            outcome = asyncio.run(run(base, args.patients, args.seconds, args.warmup,
                                      args.think_ms / 1000, args.seed,
                                      server.pid if server else None))
        finally:
            if server is not None:
                server.send_signal(signal.SIGINT)
                try:
                    server.wait(30)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
                log.seek(0)
                server_log = log.read()
                log.close()

    stats: Stats = outcome["stats"]
    latencies = stats.measured()
    answers = len(latencies)
    elapsed = outcome["seconds"]
    rate = answers / elapsed
    p50 = percentile(latencies, 50) if answers else float("nan")
    p95 = percentile(latencies, 95) if answers else float("nan")
    mean = sum(latencies) / answers if answers else float("nan")
    met = rate >= TARGET_RATE and p95 < TARGET_P95 and not stats.errors
    server_cpu = outcome["server_cpu"]
    report = {
        "patients": args.patients, "workers": args.workers, "think_ms_mean": args.think_ms,
        "database": "sqlite" if args.database is None else args.database.split(":")[0],
        "python": sys.version.split()[0], "cores": os.cpu_count(),
        "seconds": round(elapsed, 2), "answers": answers, "journeys_finished": stats.journeys,
        "answers_per_second": round(rate, 1),
        "answer_p50_ms": round(p50 * 1000, 1), "answer_p95_ms": round(p95 * 1000, 1),
        "answer_mean_ms": round(mean * 1000, 1),
        "think_ms_measured_mean": round(1000 * sum(stats.thought) / len(stats.thought), 1)
        if stats.thought else 0.0,
        "server_cpu_ms_per_answer": round(server_cpu / answers * 1000, 2)
        if answers and server_cpu is not None else None,
        "client_cpu_ms_per_answer": round(outcome["client_cpu"] / answers * 1000, 2)
        if answers else None,
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "errors": stats.errors[:5], "target_met": met}
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        mode = (f"mean think time {args.think_ms:g} ms" if args.think_ms
                else "no think time (saturation)")
        print(f"{args.patients} patients, {mode}, {args.workers} server process(es), "
              f"{report['database']}, Python {report['python']}, {report['cores']} cores, load "
              f"average {load_before:.2f} before the run")
        print(f"  {answers} answers in the {elapsed:.1f} s window ({stats.journeys} journeys "
              f"finished): {rate:.0f} answers/s")
        print(f"  answer latency (POST + next page): p50 {p50 * 1000:.0f} ms, p95 "
              f"{p95 * 1000:.0f} ms, mean {mean * 1000:.0f} ms")
        if report["server_cpu_ms_per_answer"] is not None:
            per = report["server_cpu_ms_per_answer"]
            print(f"  server CPU {per:.2f} ms per answer (its page included): one core serves "
                  f"about {1000 / per:.0f} answers/s")
        if answers:
            print(f"  load generator CPU {report['client_cpu_ms_per_answer']:.2f} ms per answer")
        print(f"  target: at least {TARGET_RATE:.0f} answers/s with p95 under "
              f"{TARGET_P95 * 1000:.0f} ms: {'met' if met else 'MISSED'}")
        for error in stats.errors[:5]:
            print(f"  error: {error}")
        if stats.errors and server_log:
            print("  the server's log ends:\n" + "\n".join(server_log.splitlines()[-25:]))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
