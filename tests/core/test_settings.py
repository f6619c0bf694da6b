"""A bad setting stops start-up with a message naming the variable."""

from __future__ import annotations

import os
import subprocess

import pytest

from core.settings import SettingsError, load_settings


@pytest.mark.parametrize(("variable", "value"), [
    ("REGUA_PORT", "abc"), ("REGUA_BROKER_URL", "http://broker"),
    ("REGUA_DEFAULT_TIMEZONE", "Mars/Base"), ("REGUA_DATABASE_URL", "mysql://x"),
    ("REGUA_LOG_LEVEL", "LOUD"),
])
def test_bad_value_names_the_variable(monkeypatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert variable in str(error.value.code)


def test_bad_value_stops_the_command_without_a_traceback(tmp_path) -> None:
    env = {**os.environ, "REGUA_PORT": "abc", "REGUA_STATE_DIR": str(tmp_path)}
    result = subprocess.run(["uv", "run", "--no-sync", "regua", "migrate"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "REGUA_PORT" in result.stderr
    assert "Traceback" not in result.stderr
