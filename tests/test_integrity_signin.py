"""Sign-in never stalls the server (issue 22, done-means 5): a password check runs in a worker
thread, a bounded number at once, so patients' pages are answered while staff (or guessers) sign
in. The argon2 check is made slow here (a 0.6 s sleep, which like argon2 releases the GIL) so that
the test sees where it runs; benchmarks/bench_signin.py measures the real thing under load."""
from __future__ import annotations

import threading
import time

import httpx
import uvicorn

from clinic_support import csrf_of
from triage.web.app import Settings, create_app
from triage.web.clinic import accounts
from triage.web.clinic import routes as clinic_routes
from web_support import free_port

SLOW = 0.6


def test_a_slow_password_check_holds_up_no_other_request_and_runs_a_bounded_number_at_once(
        tmp_path, monkeypatch):
    running = {"now": 0, "most": 0}
    lock = threading.Lock()
    real = accounts._hasher

    class SlowHasher:
        def __getattr__(self, name):
            return getattr(real, name)

        def verify(self, hash_, password):
            with lock:
                running["now"] += 1
                running["most"] = max(running["most"], running["now"])
            time.sleep(SLOW)
            with lock:
                running["now"] -= 1
            return real.verify(hash_, password)

    monkeypatch.setattr(accounts, "_hasher", SlowHasher())
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'signin.db'}"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    try:
        guesses = 4
        statuses = []

        def guess(n):
            with httpx.Client(base_url=url, timeout=60) as client:
                token = csrf_of(client)
                reply = client.post("/clinic/sign-in", data={
                    "csrf_token": token, "name": f"nobody{n}", "password": "wrong password!",
                    "next": "/clinic"}, headers={"x-forwarded-for": f"10.0.0.{n}"})
                statuses.append(reply.status_code)

        threads = [threading.Thread(target=guess, args=(n,)) for n in range(guesses)]
        for t in threads:
            t.start()
        time.sleep(0.2)  # the checks are under way
        slowest = 0.0
        with httpx.Client(base_url=url, timeout=60) as patient:
            for _ in range(5):
                started = time.perf_counter()
                assert patient.get("/").status_code == 200
                slowest = max(slowest, time.perf_counter() - started)
        for t in threads:
            t.join(60)
        # on the event loop, each check held up every request for SLOW seconds
        assert slowest < SLOW / 2, f"a patient's page took {slowest:.2f} s during sign-ins"
        assert statuses == [401] * guesses
        assert running["most"] <= clinic_routes.HASHING_AT_ONCE
    finally:
        server.should_exit = True
        thread.join(20)
        app.state.engine.dispose()
