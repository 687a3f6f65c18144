"""``make demo``: query the running SQL endpoint with the Python Trino client, as a BI tool would.

Waits for ``lakeforge sql`` to answer, lists the lake's tables, then shows one query's rows. Run it as
``python -m scripts.demo_sql_query [--user admin] [--sql "..."]`` while ``lakeforge sql`` is serving.
"""

from __future__ import annotations

import argparse
import time

import requests
import trino
from rich.table import Table

from lake.settings import get_settings
from lakeforge.console import make_console

DEFAULT_SQL = "SELECT table_schema, table_name FROM information_schema.tables ORDER BY 1, 2"


def wait_for_endpoint(url: str, timeout_s: float = 60.0) -> None:
    """Block until ``GET /v1/info`` answers.

    Raises:
        TimeoutError: the endpoint did not answer within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/v1/info", timeout=1).raise_for_status()
            return
        except requests.RequestException:
            time.sleep(0.3)
    raise TimeoutError(f"no SQL endpoint answered at {url} within {timeout_s:.0f} s; is `lakeforge sql` running?")


def main() -> None:
    """Run one query through the endpoint and print it as a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--user", default="admin", help="Trino user to query as (rules apply to it).")
    parser.add_argument("--sql", default=DEFAULT_SQL, help="Trino SQL to run.")
    parser.add_argument("--port", type=int, default=None, help="Endpoint port; default LAKEFORGE_SQL__PORT.")
    arguments = parser.parse_args()
    settings = get_settings().sql
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    port = arguments.port or settings.port
    wait_for_endpoint(f"http://{host}:{port}")
    connection = trino.dbapi.connect(host=host, port=port, user=arguments.user, catalog=settings.catalog)
    cursor = connection.cursor()
    cursor.execute(arguments.sql)
    rows = cursor.fetchall()
    view = Table(*(column.name for column in cursor.description), title=f"{arguments.sql}  (as {arguments.user})")
    for row in rows:
        view.add_row(*(str(value) for value in row))
    make_console().print(view)


if __name__ == "__main__":
    main()
