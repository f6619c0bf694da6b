"""Helpers for tests that start Régua processes on a state folder of their own."""

from __future__ import annotations

from pathlib import Path

import psutil

# Variables that would point a child process at this test run's servers.
STRIP = ("REGUA_DATABASE_URL", "REGUA_DATABASE_APP_URL", "REGUA_S3_ENDPOINT_URL",
         "REGUA_S3_ACCESS_KEY_ID", "REGUA_S3_SECRET_ACCESS_KEY", "REGUA_BROKER_URL",
         "REGUA_S3_BUCKET", "REGUA_DATABASE_APP_PASSWORD", "REGUA_SECRET_KEY", "REGUA_ENV")


def servers_of(state: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        line = " ".join(proc.info["cmdline"] or [])
        if str(state) in line:
            found.append(proc)
    return found
