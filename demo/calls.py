"""The demo funding calls modelled on the real ones (DOMAIN.md), the words the demo
applications are written with, and their evidence files.

- `D1-2024`, « annuaires techniques et exposition sur internet », 65 M€, closed (window
  of 18 March - 19 April 2024), objectives D1.O1 (AD audit), D1.O2.A and D1.O2.B;
- `D2-2025`, « stratégie de continuité et de reprise d'activité », 45 M€, prerequisites
  D2.P1-D2.P4 and objectives D2.O1.A-D2.O4. Its window is moved so that it is open on
  the day of the seed: it opens 30 days before `now` (at midnight) and closes 60 days
  after (at 23:59), Europe/Paris. A re-run recomputes that window, the only thing it
  changes in an existing call.
Ceiling brackets are examples (real ceilings are not public).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.text import slugify

from applications.evidence import storage_name
from applications.models import CeilingBracket, FundingCall, Requirement
from demo.common import STOP_WORDS, TEXTS

PARIS = ZoneInfo("Europe/Paris")
D1_CODE = "D1-2024"
D2_CODE = "D2-2025"
ALL_GROUPS = ["ght", "public_outside_ght", "private_non_profit", "private_for_profit"]
BATCH_SIZE = 500
D1_OPENS = datetime(2024, 3, 18, 0, 0, tzinfo=PARIS)
D1_CLOSES = datetime(2024, 4, 19, 23, 59, tzinfo=PARIS)
D1_END = date(2025, 12, 5)  # the D1 history stops there (fixed: no "today")
D2_OPEN_DAYS_BEFORE = 30
D2_CLOSE_DAYS_AFTER = 60
DEMO_EMAILS = {
    "establishment": "etablissement@demo.test",
    "ght": "ght@demo.test",
    "regional": "ars@demo.test",
    "ministry": "ministere@demo.test",
}


# --------------------------------------------------------------------------- calls


@dataclass(frozen=True)
class RequirementSpec:
    identifier: str
    kind: str
    label: str
    target: str
    evidence: str
    evidence_stage: str
    document: str = ""  # file name of the demo evidence
    title: str = ""  # title printed in the demo PDF


PRE, OBJ = Requirement.Kind.PREREQUISITE.value, Requirement.Kind.OBJECTIVE.value
AT_APPLICATION = Requirement.EvidenceStage.APPLICATION.value
AT_DECLARATION = Requirement.EvidenceStage.DECLARATION.value
NO_EVIDENCE = Requirement.EvidenceStage.NONE.value

# The requirements, descriptions and words of the calls: demo/texts.toml.
SPECS = {key: RequirementSpec(key, *values) for key, values in TEXTS["requirements"].items()}
D1_REQUIREMENTS = tuple(spec for key, spec in SPECS.items() if key.startswith("D1"))
D2_REQUIREMENTS = tuple(spec for key, spec in SPECS.items() if key.startswith("D2"))

# (min staff, max staff, ceiling in euros): examples, the real ceilings are not public.
D1_BRACKETS = ((0, 299, 40_000), (300, 999, 80_000), (1000, 2999, 150_000), (3000, None, 300_000))
D2_BRACKETS = (
    (0, 299, 150_000),
    (300, 999, 300_000),
    (1000, 2999, 500_000),
    (3000, None, 900_000),
)

D1_DESCRIPTION, D2_DESCRIPTION = TEXTS["calls"]["D1"], TEXTS["calls"]["D2"]


def d2_window(now: datetime) -> tuple[datetime, datetime]:
    """Opens at midnight 30 days before `now`, closes at 23:59 60 days after (Paris)."""
    today = timezone.localtime(now, PARIS).date()
    opens = datetime.combine(today - timedelta(days=D2_OPEN_DAYS_BEFORE), time(0, 0), PARIS)
    closes = datetime.combine(today + timedelta(days=D2_CLOSE_DAYS_AFTER), time(23, 59), PARIS)
    return opens, closes


def seed_calls(*, now: datetime) -> tuple[FundingCall, FundingCall, int]:
    """The D1 and D2 calls with their requirements and brackets; returns them and how
    many calls were created. An existing call keeps everything but the D2 window."""
    opens, closes = d2_window(now)
    calls, created = [], 0
    for code, title, description, window, envelope, parameters, specs, brackets in (
        (D1_CODE, "Domaine 1 : annuaires techniques et exposition sur internet", D1_DESCRIPTION,
         (D1_OPENS, D1_CLOSES), "65000000.00", {"volet1_required": False}, D1_REQUIREMENTS,
         D1_BRACKETS),
        (D2_CODE, "Domaine 2 : stratégie de continuité et de reprise d'activité",
         D2_DESCRIPTION, (opens, closes), "45000000.00",
         {"volet1_required": True,
          "weights": {"ad": 35, "exposure": 25, "maturity": 30, "size": 10}},
         D2_REQUIREMENTS, D2_BRACKETS),
    ):  # fmt: skip
        call, was_created = FundingCall.objects.get_or_create(
            code=code,
            defaults={"domain": code[:2], "title": f"Appel à financement CaRE – {title}",
                      "description": description, "opens_at": window[0], "closes_at": window[1],
                      "envelope": Decimal(envelope), "eligible_groups": ALL_GROUPS,
                      "parameters": parameters},
        )  # fmt: skip
        created += was_created
        if (call.opens_at, call.closes_at) != window:  # the D2 window moves with the day
            FundingCall.objects.filter(pk=call.pk).update(
                opens_at=window[0], closes_at=window[1], updated_at=timezone.now()
            )
            call.opens_at, call.closes_at = window
        Requirement.objects.bulk_create(
            [Requirement(call=call, identifier=spec.identifier, kind=spec.kind, label=spec.label,
                         target=spec.target, evidence=spec.evidence,
                         evidence_stage=spec.evidence_stage, position=position)
             for position, spec in enumerate(specs, start=1)],
            ignore_conflicts=True,
        )  # fmt: skip
        CeilingBracket.objects.bulk_create(
            [CeilingBracket(call=call, min_staff=low, max_staff=high, ceiling=Decimal(ceiling))
             for low, high, ceiling in brackets],
            ignore_conflicts=True,
        )  # fmt: skip
        calls.append(call)
    return calls[0], calls[1], created


# --------------------------------------------------------------------------- words

WORDS = TEXTS["words"]
FIRST_NAMES, LAST_NAMES = WORDS["first_names"], WORDS["last_names"]
BUDGET_POOLS: dict[str, dict[str, list[str]]] = WORDS["budget"]
ANSWER_COMMENTS: dict[str, list[str]] = WORDS["answers"]
COMMENTS: dict[str, list[str]] = WORDS["comments"]
MESSAGES: dict[str, list[str]] = WORDS["messages"]


def mail_domain(name: str) -> str:
    words = [w for w in slugify(name.replace("'", " ")).split("-") if w not in STOP_WORDS]
    label = "-".join(words)[:40].strip("-") or "etablissement"
    return f"{label}.test"


def person(rng: random.Random, domain: str) -> tuple[str, str]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    local = f"{slugify(first)}.{slugify(last)}".replace("-", "")
    return f"{first} {last}", f"{local}@{domain}"


# --------------------------------------------------------------------------- PDF


def _pdf_string(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("cp1252", "replace") + b")"


def demo_pdf(lines: Sequence[str]) -> bytes:
    """A one-page PDF (Helvetica, WinAnsi) printing these lines: small, valid and free of
    active content, built by hand so that thousands cost nothing."""
    ops = [b"BT", b"/F1 15 Tf", b"56 780 Td"]
    for index, line in enumerate(lines):
        if index == 1:
            ops += [b"/F1 11 Tf", b"0 -30 Td"]
        elif index > 1:
            ops.append(b"0 -18 Td")
        ops.append(_pdf_string(line) + b" Tj")
    ops.append(b"ET")
    stream = b"\n".join(ops)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


FICTION = (
    "Document fictif généré pour la démonstration du portail CaRE :",
    "il ne contient aucune donnée réelle.",
)


@dataclass(frozen=True)
class StoredFile:
    name: str
    size: int
    sha256: str


class Files:
    """Evidence files written to the default storage during one run (deleted again if
    the run fails), with one shared file per requirement."""

    def __init__(self) -> None:
        self.written: list[str] = []
        self.shared_files: dict[str, StoredFile] = {}

    def store(self, lines: Sequence[str]) -> StoredFile:
        content = demo_pdf(lines)
        name = default_storage.save(storage_name("pdf"), ContentFile(content))
        self.written.append(name)
        return StoredFile(name, len(content), hashlib.sha256(content).hexdigest())

    def shared(self, identifier: str) -> StoredFile:
        if identifier not in self.shared_files:
            spec = SPECS.get(identifier)
            title = spec.title if spec and spec.title else f"Pièce justificative {identifier}"
            self.shared_files[identifier] = self.store(
                [
                    title,
                    "Modèle de démonstration commun à plusieurs candidatures.",
                    *FICTION,
                ]
            )
        return self.shared_files[identifier]

    def discard(self) -> None:
        for name in self.written:
            default_storage.delete(name)
