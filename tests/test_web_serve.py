"""`triage serve` as a person runs it: it starts, says where, serves, and stops on Ctrl-C; its
database is migrated from the shipped Alembic revisions, whatever the directory."""
from __future__ import annotations

import json
import subprocess
import urllib.request

from sqlalchemy import inspect

from triage.web.db import Base, make_engine, migrate
from web_support import Server, free_port, triage_command


def test_serve_prints_its_url_serves_and_stops_cleanly_on_ctrl_c(tmp_path):
    elsewhere = tmp_path / "somewhere-else"
    elsewhere.mkdir()
    database = tmp_path / "data" / "triage.sqlite3"
    server = Server(f"sqlite:///{database}", cwd=elsewhere)
    try:
        with urllib.request.urlopen(server.url + "/healthz") as response:
            health = json.load(response)
        assert health["status"] == "ok"
        with urllib.request.urlopen(server.url + "/") as response:
            assert "Check your lower back pain" in response.read().decode()
    finally:
        code, _out, err = server.stop()
    assert code == 0, err
    assert f"Serving triage on {server.url}/" in err
    assert "Stopped." in err and "Traceback" not in err
    assert "Warning" not in err  # loopback: no warning
    assert database.exists()  # the data directory was made and the schema migrated there


def test_serve_refuses_a_port_in_use_with_one_clear_message(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(triage_command() + ["serve", "--port", str(port), "--database",
                                                    f"sqlite:///{tmp_path / 'db.sqlite3'}"],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"cannot serve on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_a_bad_database_url_before_listening(tmp_path):
    result = subprocess.run(triage_command() + ["serve", "--port", str(free_port()),
                                                "--database", "not a url"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "not a database URL" in result.stderr


def test_serve_warns_when_it_serves_beyond_this_machine_without_tls(monkeypatch, tmp_path):
    import uvicorn
    from click.testing import CliRunner

    from triage.cli import main_group
    from triage.cli import serve as serve_module

    ran = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: ran.update(options))
    monkeypatch.setattr(serve_module, "_check_port_free", lambda host, port: None)  # never bind
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    result = CliRunner().invoke(main_group, ["serve", "--host", "0.0.0.0", "--database", database])
    assert result.exit_code == 0, result.output
    assert ran["host"] == "0.0.0.0" and ran["proxy_headers"] is True
    assert "Warning: serving on 0.0.0.0" in result.output and "TLS reverse proxy" in result.output
    quiet = CliRunner().invoke(main_group, ["serve", "--database", database])
    assert ran["host"] == "127.0.0.1" and "Warning" not in quiet.output
    assert serve_module._is_loopback("::1") and serve_module._is_loopback("localhost")
    assert not serve_module._is_loopback("10.1.2.3")


def test_the_database_url_comes_from_the_environment_when_not_given(monkeypatch, tmp_path):
    from triage.web.db import default_database_url

    monkeypatch.setenv("TRIAGE_DATABASE_URL", f"sqlite:///{tmp_path / 'env.sqlite3'}")
    assert default_database_url() == f"sqlite:///{tmp_path / 'env.sqlite3'}"
    monkeypatch.delenv("TRIAGE_DATABASE_URL")
    assert default_database_url().startswith("sqlite:///") and "triage" in default_database_url()


def test_serve_help_has_examples_and_every_option():
    result = subprocess.run(triage_command() + ["serve", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    for option in ("--host", "--port", "--database", "--rules", "--workers", "--retention-days",
                   "TRIAGE_DATABASE_URL", "--emergency-number", "TRIAGE_EMERGENCY_NUMBER",
                   "Examples:"):
        assert option in result.stdout


# --------------------------------------------------------------------------- migrations

def test_the_migrations_make_exactly_the_tables_of_the_models(tmp_path):
    import importlib
    import pkgutil

    import triage.web
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    # every model module of the web (the clinic's too), whatever ran before this test
    for module in pkgutil.walk_packages(triage.web.__path__, "triage.web."):
        if module.name.endswith(".models"):
            importlib.import_module(module.name)

    engine = make_engine(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    migrate(engine)
    migrate(engine)  # a second run finds nothing to do
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    assert "patient_sessions" in inspect(engine).get_table_names()
    columns = {c["name"] for c in inspect(engine).get_columns("patient_sessions")}
    assert {"id", "token_hash", "resume_code_hash", "answers", "created_at", "updated_at",
            "submitted_at", "urgency", "assessment"} <= columns


def test_serve_takes_the_emergency_number_from_its_option_or_the_environment(monkeypatch,
                                                                              tmp_path):
    import uvicorn
    from click.testing import CliRunner

    from triage.cli import main_group
    from triage.cli import serve as serve_module

    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.append(app))
    monkeypatch.setattr(serve_module, "_check_port_free", lambda host, port: None)  # never bind
    monkeypatch.delenv("TRIAGE_EMERGENCY_NUMBER", raising=False)
    database = ["--database", f"sqlite:///{tmp_path / 'db.sqlite3'}"]
    runner = CliRunner()
    assert runner.invoke(main_group, ["serve", *database]).exit_code == 0
    assert served[-1].state.settings.emergency_number == "112"  # most of Europe
    result = runner.invoke(main_group, ["serve", *database, "--emergency-number", "+44999"])
    assert result.exit_code == 0, result.output
    assert served[-1].state.settings.emergency_number == "+44999"
    monkeypatch.setenv("TRIAGE_EMERGENCY_NUMBER", "911")
    assert runner.invoke(main_group, ["serve", *database]).exit_code == 0
    assert served[-1].state.settings.emergency_number == "911"
    # anything but a short phone number is refused before the server starts
    for bad in ("", "999; call", "tel:112", "12345678901234567", "++112"):
        result = runner.invoke(main_group, ["serve", *database, "--emergency-number", bad])
        assert result.exit_code == 2 and "not a phone number" in result.output, bad
    assert len(served) == 3
