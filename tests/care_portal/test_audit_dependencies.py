"""scripts/audit_dependencies.py (`make lint`): pip-audit's three outcomes told apart —
audited and clean, a known vulnerability (fails), no vulnerability database (skipped,
said so, and failing only with PIP_AUDIT_REQUIRED=1). pip-audit itself is replaced by
a stand-in that writes the report pip-audit would write."""

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

SCRIPT = Path(settings.BASE_DIR) / "scripts" / "audit_dependencies.py"
NOT_FOUND = "Dependency not found on PyPI and could not be audited: {name} ({version})"


@pytest.fixture
def audit():
    spec = importlib.util.spec_from_file_location("audit_dependencies", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pip_audit_writing(monkeypatch, report=None, *, returncode=0, stderr=""):
    def run(command, **kwargs):
        assert command[1:4] == ["-m", "pip_audit", "--local"]
        if report is not None:
            Path(command[command.index("--output") + 1]).write_text(json.dumps(report))
        return subprocess.CompletedProcess(command, returncode, "", stderr)

    monkeypatch.setattr(subprocess, "run", run)


def dep(name, version="1.0", vulns=None, skip=None):
    entry = {"name": name, "version": version}
    if skip:
        entry["skip_reason"] = skip.format(name=name, version=version)
    else:
        entry["vulns"] = vulns or []
    return entry


def test_clean_audit_passes_with_the_counts(audit, monkeypatch, capsys):
    pip_audit_writing(monkeypatch, {"dependencies": [dep("django"), dep("redis")]})
    assert audit.main() == 0
    assert "no known vulnerability in 2 packages" in capsys.readouterr().out


def test_a_known_vulnerability_fails_and_is_named(audit, monkeypatch, capsys):
    vuln = {"id": "PYSEC-2099-1", "fix_versions": ["5.2.99"]}
    pip_audit_writing(
        monkeypatch,
        {"dependencies": [dep("django", "5.2.1", [vuln]), dep("redis")]},
        returncode=1,
    )
    assert audit.main() == 1
    out = capsys.readouterr().out
    assert "django 5.2.1: PYSEC-2099-1 (fixed in 5.2.99)" in out
    assert "FAILED, 1 vulnerable package(s)" in out


def test_nothing_found_on_pypi_is_a_skip_said_plainly(audit, monkeypatch, capsys):
    """What happens on this project's machines: the registry mirror serves no
    per-version JSON, so every package comes back "not found on PyPI"."""
    report = {"dependencies": [dep(n, skip=NOT_FOUND) for n in ("django", "redis", "celery")]}
    pip_audit_writing(monkeypatch, report)
    assert audit.main() == 0
    out = capsys.readouterr().out
    assert out.startswith("pip-audit: SKIPPED for lack of network access")
    assert "0 of 3 installed packages" in out
    monkeypatch.setenv("PIP_AUDIT_REQUIRED", "1")
    assert audit.main() == 1


def test_no_network_at_all_is_a_skip(audit, monkeypatch, capsys):
    pip_audit_writing(
        monkeypatch, returncode=1, stderr="requests.exceptions.ConnectionError: Max retries"
    )
    assert audit.main() == 0
    assert "PyPI's JSON API could not be reached" in capsys.readouterr().out


def test_any_other_crash_fails(audit, monkeypatch, capsys):
    pip_audit_writing(monkeypatch, returncode=2, stderr="usage: pip-audit: bad option")
    assert audit.main() == 1
    assert "pip-audit: FAILED (exit 2)" in capsys.readouterr().out
