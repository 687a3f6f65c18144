"""The local Ray instance of the embedded profile, started without what only a cluster can use.

A local instance runs without Ray's dashboard (it would start a web server and its agents for nothing on a
laptop). Ray Train still starts two helpers per run that need a cluster: a watcher of node preemption (spot
instances), which on one node has nothing to watch and logs an error line about its own restart policy, and a
placement-group cleaner that asks the dashboard's State API, every second, whether the run's controller is alive,
and logs a warning each time the API is missing (the cleaner matters when a controller dies mid-run; on a local
instance, shutting Ray down removes every placement group anyway). The watcher is switched off and the cleaner's
warnings are dropped, so that a local training prints its progress, not a page of alarms that need no action.
A cluster (``settings.ray.address``) keeps both: it serves the State API and its nodes can be preempted.
"""

from __future__ import annotations

import logging

import ray

from lake.settings import Settings

PLACEMENT_GROUP_CLEANER_LOGGER = "ray.train.v2._internal.execution.controller.placement_group_cleaner"
"""Ray Train's placement-group cleaner's logger (its only warning is the missing State API)."""
LOCAL_RUNTIME_ENV = {
    "worker_process_setup_hook": f"{__name__}.quiet_cluster_helpers",
    "env_vars": {"RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0"},
}
"""The job runtime environment of a local instance: every worker runs the hook; Ray Train reads the variable."""


def start_ray(settings: Settings, log_to_driver: bool = True) -> None:
    """Connect to the cluster at ``settings.ray.address``, or start the local instance (:func:`start_local_ray`).

    Args:
        settings: the Ray address, or the local instance's CPUs.
        log_to_driver: print the workers' output in this process.
    """
    if settings.ray.address:
        ray.init(address=settings.ray.address, log_to_driver=log_to_driver)
    else:
        start_local_ray(settings.ray.num_cpus, log_to_driver)


def start_local_ray(num_cpus: int | None, log_to_driver: bool = True) -> None:
    """Start a local Ray instance (no dashboard; Ray Train's cluster-only helpers quiet, see the module docstring).

    Args:
        num_cpus: CPUs the instance offers; ``None``: the machine's.
        log_to_driver: print the workers' output in this process.
    """
    ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=log_to_driver, runtime_env=LOCAL_RUNTIME_ENV)


def quiet_cluster_helpers() -> None:
    """Worker setup hook: only the placement-group cleaner's errors are logged, not its missing-State-API warning."""
    logging.getLogger(PLACEMENT_GROUP_CLEANER_LOGGER).setLevel(logging.ERROR)
