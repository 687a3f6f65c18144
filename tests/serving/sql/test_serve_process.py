"""``lakeforge sql`` as users run it: a process that serves, and flushes its audit log when stopped."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import trino

from lake.catalog import load_catalog
from lake.settings import load_settings, without_settings
from tests.conftest import clean_environment
from tests.serving.sql.conftest import build_lake, fetch


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_lakeforge_sql_serves_and_flushes_the_audit_on_sigterm(tmp_path: Path) -> None:
    home, port = tmp_path / "home", _free_port()
    with clean_environment():
        build_lake(load_catalog(load_settings(home=home)))
        environment = without_settings()
        environment["LAKEFORGE_HOME"] = str(home)
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("lakeforge")), "sql", "--port", str(port)],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    requests.get(f"http://127.0.0.1:{port}/v1/info", timeout=1)
                    break
                except requests.ConnectionError:
                    assert time.monotonic() < deadline, "lakeforge sql did not start"
                    time.sleep(0.2)
            connection = trino.dbapi.connect(host="127.0.0.1", port=port, user="analyst", catalog="lake")
            assert fetch(connection, "SELECT count(*) FROM curated.customers") == [[4]]
        finally:
            process.send_signal(signal.SIGTERM)
            output = process.communicate(timeout=60)[0].decode()
        assert process.returncode == 0, output
        assert "authentication is OFF" in output
        entries = load_catalog(load_settings(home=home)).load_table("ops.query_log").scan().to_arrow().to_pylist()
    assert [(e["user_name"], e["state"]) for e in entries] == [("analyst", "FINISHED")]
