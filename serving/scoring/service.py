"""Start and stop the scoring application on Ray: the local instance of the embedded profile, or a cluster."""

from __future__ import annotations

import logging

import ray

from lake.settings import Settings, get_settings
from models.local_ray import start_ray
from serving.scoring.app import DEFAULT_OPTIONS, ServiceOptions, build_app
from serving.scoring.ray_serve import serve

log = logging.getLogger(__name__)

APP_NAME = "scoring"
"""The Serve application name (also in ``serve_config.yaml``)."""


def start_service(
    settings: Settings | None = None, options: ServiceOptions = DEFAULT_OPTIONS, port: int | None = None
) -> str:
    """Connect to Ray (``settings.ray.address``, or a new local instance), deploy the app and wait until ready.

    Args:
        settings: settings the replicas serve with; default: the process settings.
        options: service tunables.
        port: HTTP port; default: ``settings.scoring.port``.

    Returns:
        The service's base URL.
    """
    settings = settings or get_settings()
    local = settings.ray.address is None
    if not ray.is_initialized():
        start_ray(settings, log_to_driver=False)
    port = port or settings.scoring.port
    serve.start(http_options={"host": settings.scoring.host, "port": port})
    cores = int(ray.cluster_resources().get("CPU", 1)) if local else None
    serve.run(build_app(settings, options, max_replicas=cores), name=APP_NAME, route_prefix="/")
    return f"http://{settings.scoring.host}:{port}"


def stop_service() -> None:
    """Shut Serve down gracefully (replicas write their buffered predictions) and disconnect from Ray."""
    serve.shutdown()
    ray.shutdown()
