"""The demo app is dev and test only: production settings leave it out, and the
product apps never import it."""

import ast
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_APPS = ("care_portal", "accounts", "establishments", "audits", "applications", "monitoring")


def installed_apps(module: str) -> list[str]:
    code = f"import {module} as s; print('\\n'.join(s.INSTALLED_APPS))"
    env = {"SECRET_KEY": "k3y-" + "a1B2c3D4e5F6g7H8i9J0" * 3, "ALLOWED_HOSTS": "care.example.fr"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_production_settings_leave_the_demo_app_out():
    assert "demo" not in installed_apps("care_portal.settings.prod")
    assert "demo" not in installed_apps("care_portal.settings.base")
    assert "demo" in installed_apps("care_portal.settings.dev")
    assert "demo" in settings.INSTALLED_APPS  # the test settings, so that it is tested


def test_the_product_apps_never_import_the_demo_app():
    offenders = []
    for app in PRODUCT_APPS:
        for path in (ROOT / app).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    names = [node.module or ""]
                offenders += [f"{path}: {n}" for n in names if n.split(".")[0] == "demo"]
    assert not offenders


def test_the_demo_never_writes_an_application_status():
    """Every status change goes through the lifecycle engine: no `x.status = …`, no
    `status=` keyword (update, create, constructors) anywhere in demo/."""
    writes = []
    for path in (ROOT / "demo").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = node.targets if isinstance(node, ast.Assign) else []
            writes += [
                f"{path}:{node.lineno}"
                for target in targets
                if isinstance(target, ast.Attribute) and target.attr == "status"
            ]
            if isinstance(node, ast.Call):
                writes += [f"{path}:{node.lineno}" for k in node.keywords if k.arg == "status"]
    assert not writes
