"""The Volet 1 status of a legal entity, computed in this one place.

- AD objective: at least one Active Directory audit.
- Exposure objective D1.O2.B: two successive exposure scans, 45 to 60 days apart
  (both bounds included), both showing the minimum security level of internet
  exposure. SILENE scans run about monthly, so scans may lie between the two; we read
  "successive" as "the level held from one to the other": every scan between them
  must show the minimum level too (a failing scan in between breaks the pair).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from django.utils.translation import gettext as _

from .models import Volet1Level

# D1.O2.B: the two scans are 45 to 60 days apart.
EXPOSURE_MIN_GAP_DAYS = 45
EXPOSURE_MAX_GAP_DAYS = 60


@dataclass(frozen=True)
class ScanPoint:
    scan_date: date
    minimum_level_met: bool


@dataclass(frozen=True)
class Volet1Result:
    ad_audit_done: bool
    exposure_objective_met: bool
    ad_audit_date: date | None  # the latest AD audit
    exposure_scan_dates: tuple[date, date] | None  # the latest pair meeting D1.O2.B
    last_scan_date: date | None

    @property
    def level(self) -> str:
        if self.ad_audit_done and self.exposure_objective_met:
            return Volet1Level.BOTH
        if self.exposure_objective_met:
            return Volet1Level.EXPOSURE_MET
        if self.ad_audit_done:
            return Volet1Level.AD_DONE
        return Volet1Level.NONE

    @property
    def level_label(self) -> str:
        return str(Volet1Level(self.level).label)

    def __getitem__(self, key: str) -> object:
        """Dict-style access (`result["ad_audit_done"]`) for callers that expect one."""
        return getattr(self, key)


def exposure_pair(scans: Iterable[ScanPoint]) -> tuple[date, date] | None:
    """The latest pair of successive scans that meets D1.O2.B, or None."""
    ordered = sorted(scans, key=lambda s: s.scan_date)
    found = None
    for index, later in enumerate(ordered):
        if not later.minimum_level_met:
            continue
        # Walk back through the unbroken run of compliant scans before `later`.
        for earlier in reversed(ordered[:index]):
            if not earlier.minimum_level_met:
                break
            gap = (later.scan_date - earlier.scan_date).days
            if gap > EXPOSURE_MAX_GAP_DAYS:
                break
            if gap >= EXPOSURE_MIN_GAP_DAYS:
                found = (earlier.scan_date, later.scan_date)
                break
    return found


def compute_volet1_status(
    *, ad_audit_dates: Iterable[date], scans: Iterable[ScanPoint]
) -> Volet1Result:
    audit_dates = list(ad_audit_dates)
    scan_list = list(scans)
    pair = exposure_pair(scan_list)
    return Volet1Result(
        ad_audit_done=bool(audit_dates),
        exposure_objective_met=pair is not None,
        ad_audit_date=max(audit_dates) if audit_dates else None,
        exposure_scan_dates=pair,
        last_scan_date=max((s.scan_date for s in scan_list), default=None),
    )


def exposure_next_step(scans: Iterable[ScanPoint], today: date) -> str:
    """What is missing to meet D1.O2.B, in words a director understands."""
    ordered = sorted(scans, key=lambda s: s.scan_date)
    if exposure_pair(ordered):
        return _("Objectif atteint.")
    if not ordered:
        return _(
            "Aucun scan d'exposition n'est enregistré : demandez à l'ANSSI l'inscription de "
            "vos adresses internet au service de scan (SILENE)."
        )
    last = ordered[-1]
    if not last.minimum_level_met:
        return _(
            "Le dernier scan (%(date)s) n'atteint pas le niveau minimal de sécurité : "
            "corrigez les vulnérabilités critiques et élevées relevées, puis attendez le "
            "scan suivant."
        ) % {"date": last.scan_date.strftime("%d/%m/%Y")}
    gap = (today - last.scan_date).days
    if gap > EXPOSURE_MAX_GAP_DAYS:
        return _(
            "Le dernier scan conforme date du %(date)s, il y a plus de %(max)d jours : il "
            "faut deux nouveaux scans conformes espacés de %(min)d à %(max)d jours."
        ) % {
            "date": last.scan_date.strftime("%d/%m/%Y"),
            "min": EXPOSURE_MIN_GAP_DAYS,
            "max": EXPOSURE_MAX_GAP_DAYS,
        }
    return _(
        "Le scan du %(date)s atteint le niveau minimal : un second scan conforme entre "
        "le %(start)s et le %(end)s atteindra l'objectif."
    ) % {
        "date": last.scan_date.strftime("%d/%m/%Y"),
        "start": _add_days(last.scan_date, EXPOSURE_MIN_GAP_DAYS),
        "end": _add_days(last.scan_date, EXPOSURE_MAX_GAP_DAYS),
    }


def _add_days(day: date, days: int) -> str:
    return (day + timedelta(days=days)).strftime("%d/%m/%Y")
