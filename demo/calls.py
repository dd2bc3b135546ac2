"""The demo funding calls modelled on the real ones, and the demo evidence files.

- `D1-2024`, « annuaires techniques et exposition sur internet », 65 M€, closed (window
  of 18 March - 19 April 2024), objectives D1.O1 (AD audit), D1.O2.A and D1.O2.B;
- `D2-2025`, « stratégie de continuité et de reprise d'activité », 45 M€, prerequisites
  D2.P1-D2.P4 and objectives D2.O1.A-D2.O4. Its window moves so that it is open on the
  day of the seed: it opens 30 days before `now` (at midnight) and closes 60 days
  after (at 23:59), Europe/Paris; a re-run changes nothing else in an existing call.
  It counts the AD audits made from 1 June 2024 on (`volet1_valid_from`): the entities
  audited only in the first weeks of the audits (April-May 2024) must renew theirs, and
  their applications show them "obsolète" (ght@'s support has two such old audits
  beside a counted one). D1, which funded the audits, counts every audit.
Ceiling brackets are examples (real ceilings are not public).
"""

import hashlib
from collections import namedtuple
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from applications.evidence import storage_name
from applications.models import CeilingBracket, FundingCall, Requirement
from demo.common import TEXTS
from establishments.models import StatisticsGroup

PARIS = ZoneInfo("Europe/Paris")
D1_CODE, D2_CODE = "D1-2024", "D2-2025"
D2_VOLET1_VALID_FROM = date(2024, 6, 1)  # AD audits before it are outdated for D2
D1_WINDOW = (datetime(2024, 3, 18, 0, 0, tzinfo=PARIS), datetime(2024, 4, 19, 23, 59, tzinfo=PARIS))
CALLS = (  # code, title, envelope, parameters, brackets (min staff, max staff, ceiling)
    (D1_CODE, "Domaine 1 : annuaires techniques et exposition sur internet", "65000000",
     {"volet1_required": False},
     ((0, 299, 40_000), (300, 999, 80_000), (1000, 2999, 150_000), (3000, None, 300_000))),
    (D2_CODE, "Domaine 2 : stratégie de continuité et de reprise d'activité", "45000000",
     {"volet1_required": True, "weights": {"ad": 35, "exposure": 25, "maturity": 30, "size": 10}},
     ((0, 299, 150_000), (300, 999, 300_000), (1000, 2999, 500_000), (3000, None, 900_000))),
)  # fmt: skip


# A requirement (demo/texts.toml): its fields, then the file name and title of its evidence.
Spec = namedtuple("Spec", "identifier kind label target evidence evidence_stage document title")
SPECS = {key: Spec(key, *values) for key, values in TEXTS["requirements"].items()}


def d2_window(now: datetime) -> tuple[datetime, datetime]:
    today = timezone.localtime(now, PARIS).date()
    return (datetime.combine(today - timedelta(days=30), time(0, 0), PARIS),
            datetime.combine(today + timedelta(days=60), time(23, 59), PARIS))  # fmt: skip


def seed_calls(*, now: datetime) -> list[FundingCall]:
    """The D1 and D2 calls with their requirements and brackets. An existing call keeps
    everything but the D2 window."""
    calls = []
    for code, title, envelope, parameters, brackets in CALLS:
        window = D1_WINDOW if code == D1_CODE else d2_window(now)
        call, _ = FundingCall.objects.get_or_create(code=code, defaults={
            "domain": code[:2], "title": f"Appel à financement CaRE – {title}",
            "description": TEXTS["calls"][code[:2]], "opens_at": window[0],
            "closes_at": window[1], "envelope": Decimal(envelope),
            "eligible_groups": StatisticsGroup.values, "parameters": parameters,
            "volet1_valid_from": D2_VOLET1_VALID_FROM if code == D2_CODE else None})  # fmt: skip
        if (call.opens_at, call.closes_at) != window:  # the D2 window moves with the day
            call.opens_at, call.closes_at = window
            call.save(update_fields=["opens_at", "closes_at", "updated_at"])
        Requirement.objects.bulk_create(
            [Requirement(call=call, position=n, **dict(zip(Spec._fields[:6], s, strict=False)))
             for n, s in enumerate((s for k, s in SPECS.items() if k.startswith(code[:2])), 1)],
            ignore_conflicts=True,
        )  # fmt: skip
        CeilingBracket.objects.bulk_create(
            [CeilingBracket(call=call, min_staff=low, max_staff=high, ceiling=Decimal(ceiling))
             for low, high, ceiling in brackets], ignore_conflicts=True)  # fmt: skip
        calls.append(call)
    return calls


def demo_pdf(lines: Sequence[str]) -> bytes:
    """A one-page PDF (Helvetica, WinAnsi) printing these lines: small, valid and free of
    active content, built by hand so that thousands cost nothing."""
    text = [line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in lines]
    shows = b"\n".join(
        b"%s(%s) Tj" % (b"/F1 11 Tf 0 -30 Td " if n == 1 else b"0 -18 Td " * (n > 1),
                        line.encode("cp1252", "replace"))
        for n, line in enumerate(text)
    )  # fmt: skip
    stream = b"BT /F1 15 Tf 56 780 Td\n" + shows + b"\nET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    out, offsets = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref, size = len(out), len(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref)
    return bytes(out)


FICTION = ("Document fictif généré pour la démonstration du portail CaRE :",
           "il ne contient aucune donnée réelle.")  # fmt: skip


class Files:
    """Evidence files written to the default storage during one run (deleted again if
    the run fails), with one shared file per requirement."""

    def __init__(self) -> None:
        self.written: list[str] = []
        self.shared_files: dict[str, tuple[str, int, str]] = {}

    def store(self, lines: Sequence[str]) -> tuple[str, int, str]:
        """Stores a PDF of these lines: (name, size, SHA-256)."""
        content = demo_pdf([*lines, *FICTION])
        self.written.append(default_storage.save(storage_name("pdf"), ContentFile(content)))
        return self.written[-1], len(content), hashlib.sha256(content).hexdigest()

    def shared(self, identifier: str) -> tuple[str, int, str]:
        if identifier not in self.shared_files:
            lines = [SPECS[identifier].title, "Modèle de démonstration commun aux candidatures."]
            self.shared_files[identifier] = self.store(lines)
        return self.shared_files[identifier]

    def discard(self) -> None:
        for name in self.written:
            default_storage.delete(name)
