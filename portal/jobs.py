"""Every area's jobs: the one list of task modules a process imports at start.

Importing a tasks module registers its actors (core.jobs sends them by name) and its
periodic declarations (core.maintenance schedules them). The web app, the worker, the
scheduler and `regua up` all call `load_tasks` before anything is sent.
"""

from __future__ import annotations

import importlib

TASK_MODULES = ("core.maintenance", "core.channels.tasks", "core.cadence.tasks",
                "core.scoring.tasks", "tenants.intake.tasks", "legal.tasks",
                "legal.protest.tasks", "legal.escalation.tasks",
                "legal.cases.tasks", "dialer.tasks", "reports.tasks")


def load_tasks() -> None:
    for name in TASK_MODULES:
        importlib.import_module(name)
