"""Run a command and measure it: wall time, CPU time of it and its children, and the peak resident
memory of the largest process of its tree (the command and, say, its worker processes).

Why not ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``: a child forked by a large benchmark
process starts out counting the benchmark's own pages (shared until the child execs), so that
figure reported the benchmark's memory (the million generated cases), not triage's. Here each
process's own high-water mark (``VmHWM`` in /proc, which starts afresh at exec) is read every
0.2 s while the command runs. Linux only; elsewhere the peak is reported as 0.
"""
from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from pathlib import Path


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _high_water_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def run_measured(command: list[str]) -> tuple[float, float, int, subprocess.CompletedProcess]:
    """(wall seconds, CPU seconds of the command and its children, peak RSS in KiB of its
    largest process, the completed process with its output)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    output: dict = {}
    readers = [threading.Thread(target=lambda: output.update(out=proc.stdout.read())),
               threading.Thread(target=lambda: output.update(err=proc.stderr.read()))]
    for reader in readers:
        reader.start()
    peaks: dict[int, int] = {}
    linux = os.path.isdir("/proc/self")
    while proc.poll() is None:
        if linux:
            for pid in [proc.pid, *_children(proc.pid)]:
                peaks[pid] = max(peaks.get(pid, 0), _high_water_kib(pid))
        time.sleep(0.2)
    for reader in readers:
        reader.join()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    done = subprocess.CompletedProcess(command, proc.returncode, output.get("out", ""),
                                       output.get("err", ""))
    return wall, cpu, max(peaks.values(), default=0), done
