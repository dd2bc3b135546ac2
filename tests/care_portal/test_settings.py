"""Production settings refuse to start without their secrets; check --deploy is clean."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from care_portal.env import env_bool, env_int, env_list

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    unset = {"SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE"}  # the last: e2e tests
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    clean.update(env)
    clean["DJANGO_SETTINGS_MODULE"] = "care_portal.settings.prod"
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_prod_refuses_to_start_without_secret_key():
    result = _manage("check", ALLOWED_HOSTS="care.example.fr")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_prod_refuses_to_start_without_allowed_hosts():
    result = _manage("check", SECRET_KEY="x" * 60)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS" in result.stderr


def test_prod_check_deploy_reports_no_warning():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY="k3y-" + "a1B2c3D4e5F6g7H8i9J0" * 3,
        ALLOWED_HOSTS="care.example.fr",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_env_helpers_parse_and_refuse_bad_values(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_INT", "12")
    monkeypatch.setenv("X_LIST", "a.fr, b.fr,,")
    assert env_bool("X_BOOL") is True
    assert env_int("X_INT", 3) == 12
    assert env_list("X_LIST") == ["a.fr", "b.fr"]
    monkeypatch.setenv("X_BOOL", "peut-être")
    with pytest.raises(ImproperlyConfigured):
        env_bool("X_BOOL")
    monkeypatch.setenv("X_INT", "douze")
    with pytest.raises(ImproperlyConfigured):
        env_int("X_INT", 3)
