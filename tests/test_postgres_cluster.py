"""The throwaway PostgreSQL cluster the database tests use: a socket in a private directory and
no TCP port, not run as root, removed when stopped."""
import os
import stat

import sqlalchemy as sa

from postgres import PostgresCluster


def test_the_cluster_listens_on_its_private_socket_only(postgres_cluster):
    engine = sa.create_engine(postgres_cluster.create_database())
    try:
        with engine.connect() as connection:
            assert connection.execute(sa.text("SHOW listen_addresses")).scalar() == ""
            socket_dir = connection.execute(sa.text("SHOW unix_socket_directories")).scalar()
            server_user = connection.execute(sa.text(
                "SELECT usename FROM pg_stat_activity WHERE pid = pg_backend_pid()")).scalar()
    finally:
        engine.dispose()
    assert socket_dir == str(postgres_cluster.directory)
    assert server_user == "triage"
    mode = os.stat(postgres_cluster.directory).st_mode
    assert stat.S_IMODE(mode) == 0o700  # nobody else on the machine can reach the socket
    # the server process does not run as root (PostgreSQL refuses to)
    pid = int((postgres_cluster.data / "postmaster.pid").read_text().split()[0])
    assert os.stat(f"/proc/{pid}").st_uid != 0


def test_each_database_is_new_and_empty(postgres_cluster):
    first, second = postgres_cluster.create_database(), postgres_cluster.create_database()
    assert first != second
    engine = sa.create_engine(second)
    try:
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_stopping_removes_the_cluster():
    cluster = PostgresCluster().start()
    pid = int((cluster.data / "postmaster.pid").read_text().split()[0])
    cluster.stop()
    assert not cluster.directory.exists()
    assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read()
