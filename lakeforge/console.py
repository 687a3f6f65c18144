"""The Rich consoles of the CLI and the demo scripts: a terminal's own width, a wide page otherwise.

Rich assumes 80 columns when its output is not a terminal (a log file, a pipe, CI, cron), and its tables then cut
numbers and names short ("2,…"). Such output gets :data:`WIDTH_WITHOUT_TERMINAL` columns instead, unless the user
set ``COLUMNS``, which Rich honours.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

WIDTH_WITHOUT_TERMINAL = 160
"""Columns laid out when the output is not a terminal and ``COLUMNS`` is unset."""


def make_console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr), as wide as its terminal, or :data:`WIDTH_WITHOUT_TERMINAL` without one."""
    stream = sys.stderr if stderr else sys.stdout
    wide = not stream.isatty() and "COLUMNS" not in os.environ
    return Console(stderr=stderr, width=WIDTH_WITHOUT_TERMINAL if wide else None)
