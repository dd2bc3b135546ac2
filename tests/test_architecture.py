"""Only the lifecycle engine writes an application's status (docs/architecture.md,
"Application lifecycle"): every other module moves an application through
`applications.lifecycle.application_transition`.

The check reads the source (AST) of every project module: the Django apps, care_portal
and a `demo` package if there is one; never migrations, tests or the virtualenv. It
reports, outside `applications/lifecycle.py`:
- an assignment to `.status` on an application (`application.status = …`, a variable
  bound to an Application, an object of an Application queryset);
- `.update(status=…)` / `bulk_update(…, ["status"])` / `save(update_fields=["status"])`
  on Application querysets and objects;
- `Application(status=…)`, `Application.objects.create(status=…)`,
  `get_or_create`/`update_or_create` with a status (a `bulk_create` of such objects
  is an `Application(status=…)`), with a status other than the default "draft";
- `setattr(application, "status", …)`;
- raw SQL updating the status column of applications_application.
Other models' `status` (Dossier, AuditImport, Volet1Status…) are not an application's:
the receiver decides, so `dossier.status = …` or `Dossier.objects.….update(status=…)`
are fine."""

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGINE = "applications/lifecycle.py"
# Files allowed to write statuses directly besides the engine: none (the demo seeds
# through the engine too). A file added here must be moved onto the engine.
ALLOWED_LEGACY: set[str] = set()
SKIPPED_DIRS = {"migrations", "tests", ".venv", "node_modules", "__pycache__"}

APPLICATION_NAME = re.compile(r"(^|_)(application|app|candidature)s?($|_)", re.IGNORECASE)
DEFAULT_STATUS = "draft"
RAW_UPDATE = re.compile(
    r"\bUPDATE\s+\"?applications_application\"?\s+SET\b[^;]*\bstatus\b", re.IGNORECASE | re.DOTALL
)
CREATE_METHODS = {"create", "get_or_create", "update_or_create"}


@dataclass(frozen=True)
class Write:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def project_modules() -> list[Path]:
    """Every module of the Django apps, care_portal and a demo package, if any."""
    packages = [
        path
        for path in sorted(ROOT.iterdir())
        if path.is_dir()
        and path.name not in SKIPPED_DIRS
        and (path / "__init__.py").exists()
        and ((path / "apps.py").exists() or path.name in {"care_portal", "demo"})
    ]
    return [
        module
        for package in packages
        for module in sorted(package.rglob("*.py"))
        if not SKIPPED_DIRS & set(module.relative_to(ROOT).parts)
    ]


def _chain(node: ast.AST) -> list[ast.AST]:
    """The receiver chain of an expression, outermost first: `a.b(c).d` gives the
    nodes of `a.b(c).d`, `a.b(c)`, `a.b`, `a`."""
    nodes = [node]
    while True:
        if isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Subscript):
            node = node.value
        else:
            return nodes
        nodes.append(node)


def _is_default_status(value: ast.AST) -> bool:
    if isinstance(value, ast.Constant):
        return value.value == DEFAULT_STATUS
    if isinstance(value, ast.Attribute):  # Status.DRAFT, Status.DRAFT.value
        inner = value.value if value.attr == "value" else value
        return isinstance(inner, ast.Attribute) and inner.attr == "DRAFT"
    return False


def _is_status_key(key: ast.AST | None) -> bool:
    return isinstance(key, ast.Constant) and key.value == "status"


def _has_status_key(node: ast.Dict) -> bool:
    return any(_is_status_key(key) for key in node.keys)


def _mentions_status(node: ast.AST | None) -> bool:
    """A list, tuple or set literal naming the "status" field."""
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return any(isinstance(e, ast.Constant) and e.value == "status" for e in node.elts)
    return False


class StatusWrites(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path = path
        self.writes: list[Write] = []
        self.bound: set[str] = set()  # names bound to Applications or their querysets
        self.dicts_with_status: set[str] = set()  # names bound to {"status": …}

    # --- What is an application ---------------------------------------------------------

    def is_application(self, node: ast.AST) -> bool:
        """An Application, a queryset or manager of applications, or a name that says so."""
        for link in _chain(node):
            if (
                isinstance(link, ast.Call)
                and isinstance(link.func, ast.Name)
                and link.func.id == "type"
                and link.args
            ):
                return self.is_application(link.args[0])  # type(application).objects
            if isinstance(link, ast.Name):
                if link.id == "Application" or link.id in self.bound:
                    return True
                if APPLICATION_NAME.search(link.id):
                    return link is node  # `application` itself, not `application.call`
            elif isinstance(link, ast.Attribute):
                if link.attr == "Application" or (
                    link is node and APPLICATION_NAME.search(link.attr)
                ):
                    return True
                if link.attr in {"applications", "application_set"}:
                    return True
        return False

    def report(self, node: ast.AST, what: str) -> None:
        self.writes.append(Write(self.path, getattr(node, "lineno", 0), what))

    # --- Bindings -------------------------------------------------------------------------

    def bind(self, target: ast.AST, value: ast.AST | None) -> None:
        if not isinstance(target, ast.Name) or value is None:
            return
        if isinstance(value, ast.Dict) and _has_status_key(value):
            self.dicts_with_status.add(target.id)
        if self.is_application(value):
            self.bound.add(target.id)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self.check_target(target)
            self.bind(target, node.value)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.check_target(node.target)
        annotation = ast.unparse(node.annotation)
        if isinstance(node.target, ast.Name) and re.search(r"\bApplication\b", annotation):
            self.bound.add(node.target.id)
        self.bind(node.target, node.value)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.check_target(node.target)
        self.generic_visit(node)

    def visit_For(self, node: ast.For) -> None:
        self.bind(node.target, node.iter)
        self.generic_visit(node)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self.bind(node.target, node.iter)
        self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> None:
        if node.annotation is not None and re.search(
            r"\bApplication\b", ast.unparse(node.annotation)
        ):
            self.bound.add(node.arg)
        self.generic_visit(node)

    # --- Writes -----------------------------------------------------------------------------

    def check_target(self, target: ast.AST) -> None:
        if isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                self.check_target(element)
        elif (
            isinstance(target, ast.Attribute)
            and target.attr == "status"
            and self.is_application(target.value)
        ):
            self.report(target, f"assignment to {ast.unparse(target)}")

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        spread = [k.value for k in node.keywords if k.arg is None]
        status = keywords.get("status")
        spreads_status = any(
            (isinstance(s, ast.Name) and s.id in self.dicts_with_status)
            or (isinstance(s, ast.Dict) and _has_status_key(s))
            for s in spread
        )
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        receiver = func.value if isinstance(func, ast.Attribute) else None

        if name == "setattr" and len(node.args) >= 2:
            field = node.args[1]
            if (
                isinstance(field, ast.Constant)
                and field.value == "status"
                and self.is_application(node.args[0])
            ):
                self.report(node, f"setattr({ast.unparse(node.args[0])}, 'status', …)")
        elif name == "Application" and status is not None and not _is_default_status(status):
            self.report(node, f"Application(status={ast.unparse(status)})")
        elif receiver is not None and self.is_application(receiver):
            if name == "update" and (status is not None or spreads_status):
                self.report(node, f"{ast.unparse(receiver)}.update(status=…)")
            elif name in CREATE_METHODS and self._creates_with_status(node, status):
                self.report(node, f"{ast.unparse(receiver)}.{name}(status=…)")
            elif name == "bulk_update" and any(
                _mentions_status(a) for a in [*node.args[1:2], keywords.get("fields")]
            ):
                self.report(node, f"{ast.unparse(receiver)}.bulk_update(…, ['status'])")
            elif name == "save" and _mentions_status(keywords.get("update_fields")):
                self.report(node, f"{ast.unparse(receiver)}.save(update_fields=['status'])")
        self.generic_visit(node)

    @staticmethod
    def _creates_with_status(node: ast.Call, status: ast.AST | None) -> bool:
        if status is not None and not _is_default_status(status):
            return True
        for keyword in node.keywords:
            if keyword.arg in {"defaults", "create_defaults"} and isinstance(
                keyword.value, ast.Dict
            ):
                for key, value in zip(keyword.value.keys, keyword.value.values, strict=True):
                    if _is_status_key(key) and not _is_default_status(value):
                        return True
        return False

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and RAW_UPDATE.search(node.value):
            self.report(node, "raw SQL updating applications_application.status")


def status_writes(source: str, path: str = "<planted>") -> list[Write]:
    """Every write of an application's status in this source."""
    checker = StatusWrites(path)
    checker.visit(ast.parse(source, filename=path))
    return checker.writes


def repository_writes() -> list[Write]:
    writes = []
    for module in project_modules():
        relative = module.relative_to(ROOT).as_posix()
        writes += status_writes(module.read_text(encoding="utf-8"), relative)
    return writes


# --- The repository -----------------------------------------------------------------------


def test_only_the_lifecycle_engine_writes_an_application_status():
    allowed = {ENGINE, *ALLOWED_LEGACY}
    offending = [str(w) for w in repository_writes() if w.path not in allowed]
    assert offending == [], (
        "Change an application's status with applications.lifecycle.application_transition:\n"
        + "\n".join(offending)
    )


def test_the_check_reads_the_project_and_sees_the_engine_write():
    modules = {m.relative_to(ROOT).as_posix() for m in project_modules()}
    assert {ENGINE, "applications/drafting.py", "care_portal/queue.py"} <= modules
    assert not any("/migrations/" in m or m.startswith("tests/") for m in modules)
    # The engine itself writes the status: the check would report it if it moved.
    assert [w for w in repository_writes() if w.path == ENGINE]


def test_the_legacy_allow_list_names_files_that_still_write_statuses():
    """An entry that no longer writes a status (or no longer exists) is removed."""
    writers = {w.path for w in repository_writes()}
    assert not ALLOWED_LEGACY - writers, ALLOWED_LEGACY - writers


# --- The checker, on planted sources ---------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "application.status = 'approved'",
        "self.application.status = Status.PAID",
        "application.status, x = 'paid', 1",
        "def f(a: Application):\n    a.status = 'paid'",
        "a = Application.objects.get(pk=1)\na.status = 'paid'\na.save()",
        "for a in Application.objects.filter(call=c):\n    a.status = 'paid'",
        "Application.objects.filter(pk=1).update(status='paid')",
        "Application.objects.update(status=Status.PAID)",
        "type(application).objects.filter(pk=1).update(status='paid')",
        "qs = Application.objects.filter(call=c)\nqs.update(status='withdrawn')",
        "call.applications.update(status='withdrawn')",
        "changes = {'status': 'paid'}\nApplication.objects.filter(pk=1).update(**changes)",
        "Application(call=c, status='submitted')",
        "Application.objects.bulk_create([Application(status=Status.APPROVED)])",
        "Application.objects.create(call=c, status=Status.SUBMITTED)",
        "Application.objects.get_or_create(call=c, defaults={'status': 'paid'})",
        "Application.objects.bulk_update(objs, ['status'])",
        "application.save(update_fields=['status', 'updated_at'])",
        "setattr(application, 'status', 'paid')",
        "cursor.execute('UPDATE applications_application SET status = %s', ['paid'])",
    ],
)
def test_the_checker_reports_a_planted_write(source):
    assert status_writes(source), source


@pytest.mark.parametrize(
    "source",
    [
        "dossier.status = Dossier.Status.DONE",
        "batch.status = AuditImport.Status.FAILED",
        "Dossier.objects.filter(application=application).update(status='pending')",
        "Dossier.objects.filter(pk=d.pk, status='failed').update(status='pending')",
        "application.call.status = 'open'",
        "Application(call=c, status=Status.DRAFT)",
        "Application.objects.create(call=c)",
        "Application.objects.filter(pk=1, status='draft').update(sworn_statement=True)",
        "application.save(update_fields=['director_name', 'updated_at'])",
        "setattr(application, field, value)",
        "status = application.status",
    ],
)
def test_the_checker_leaves_other_writes_alone(source):
    assert status_writes(source) == [], source


def test_every_model_of_the_portal_names_its_rows():
    """The admin lists rows by their name, never as "Answer object (5735)"."""
    from django.apps import apps
    from django.db import models

    portal = ("accounts", "establishments", "audits", "applications", "care_portal")
    unnamed = [
        model._meta.label
        for model in apps.get_models()
        if model._meta.app_label in portal and model.__str__ is models.Model.__str__
    ]
    assert not unnamed


def test_no_model_change_lacks_its_migration(db):
    """Every model change has its migration (labels included: the admin shows them)."""
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exit:  # --check exits 1 when a migration is missing
        raise AssertionError(out.getvalue()) from exit


def test_every_field_of_the_portal_has_a_french_label():
    """No field shows its Python name ("created at", "application") in the admin."""
    from django.apps import apps

    same_in_both = {
        "code",
        "description",
        "message",
        "action",
        "motivation",
        "pages",
        "tranche",
        "version",
        "audit",
        "points",
    }
    untranslated = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        if model._meta.app_label in {"accounts", "establishments", "audits", "applications"}
        if not model.__name__.startswith("Historical")  # simple-history's copies
        for field in model._meta.get_fields()
        if not field.auto_created
        and hasattr(field, "verbose_name")
        and field.name not in same_in_both
        and str(field.verbose_name) == field.name.replace("_", " ")
    ]
    assert not untranslated, untranslated
