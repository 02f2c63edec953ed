"""Servers started together on a fresh PostgreSQL database all come up (issue 22, done-means 7):
the migration runs under an advisory lock, so one server creates the schema and the others wait
and find it ready (without the lock they raced on CREATE TABLE and some exited)."""
from __future__ import annotations

import os
import signal
import subprocess

from web_support import free_port, triage_command, wait_until_up


def test_four_servers_started_at_once_on_a_fresh_postgresql_database_all_come_up(
        postgres_cluster):
    url = postgres_cluster.create_database()
    servers = []
    try:
        for _ in range(4):
            port = free_port()
            process = subprocess.Popen(
                triage_command() + ["serve", "--port", str(port), "--database", url],
                env=dict(os.environ), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True)
            servers.append((f"http://127.0.0.1:{port}", process))
        for address, process in servers:
            wait_until_up(address, process, timeout=60)
    finally:
        for _, process in servers:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for _, process in servers:
            try:
                process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
