"""Ray Serve is imported without printing its own deprecation warning, even after Feast turned them on."""

from __future__ import annotations

import subprocess
import sys

from lake.settings import PROJECT_ROOT


def test_importing_the_scoring_service_after_feast_prints_no_deprecation_warning() -> None:
    imported = subprocess.run(
        [sys.executable, "-c", "import feast; import serving.scoring.service"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr
    assert "Deprecat" not in imported.stderr, imported.stderr
