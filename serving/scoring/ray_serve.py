"""Ray Serve's API, imported without the deprecation warning Ray Serve raises at its own import.

Ray Serve's config module declares its fields in a way pydantic 2 deprecates; once Feast's import has turned
DeprecationWarnings on for the whole process, that warning was printed by every ``lakeforge serve`` and
``make demo``: Ray's own doing, nothing a user can act on. The scoring modules import Serve from here.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray\.serve\.")
    from ray import serve
    from ray.serve import Application

__all__ = ["Application", "serve"]
