"""Eligibility rules E1–E7 and the priority score of an application (DESIGN.md,
"Eligibility and priority"). Rules are code with per-call parameters
(`FundingCall.parameters`); every result says why, rule by rule.

`gather_many(ids)` reads what the rules need for a batch of applications in a fixed
number of queries (`gather(application)`: a batch of one); `evaluate_inputs(inputs)`
is pure; `evaluate(application)` does both. `preview(application)` runs them on a draft
as if it were submitted now, saves nothing, and says for each failed rule what to fix
and where (`RULE_SECTIONS`), and which answers contradict what the portal knows (a
Volet 1 prerequisite answered "met" while the Volet 1 data says otherwise).
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Min, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _

from audits.models import DirectoryAudit, ExposureScan
from audits.status import ScanPoint, compute_volet1_status, exposure_next_step
from establishments.identifiers import is_valid_finess
from establishments.models import LegalEntity, StatusGroup
from establishments.reference import FINESS_CATEGORIES

from .lifecycle import Status
from .models import (
    Answer,
    Application,
    CeilingBracket,
    Coverage,
    FundingCall,
    Requirement,
    Transition,
)

# Bump when a rule or the score changes meaning: stored results say which rules made them.
RULES_VERSION = "2025.1"

DEFAULT_PARAMETERS: dict[str, Any] = {
    # E1: FINESS categories of health establishments (établissements de santé).
    "health_categories": sorted(FINESS_CATEGORIES),
    # E5: Volet 1 participation required (blocking) or only scored.
    "volet1_required": True,
    # Priority weights (relative): AD weakness, exposure, continuity maturity, size.
    "weights": {"ad": 35, "exposure": 25, "maturity": 30, "size": 10},
    # Answers that measure backup and continuity maturity (not met = more need).
    "maturity_requirements": ["D2.O3", "D2.O4", "D2.P4"],
    # Staff count at which the size factor is full.
    "size_full_staff": 5000,
    # Prerequisites the portal checks itself from the Volet 1 data of the covered
    # entities: an answer "met" that the data contradicts is flagged at the answer.
    "volet1_requirements": ["D2.P1"],
}

CENT = Decimal("0.01")


@dataclass(frozen=True)
class RuleResult:
    id: str
    passed: bool
    detail: str
    blocking: bool = True
    # The same wording in the portal's other languages: {"en": {"detail": "…"}}. A stored
    # result is read in the reader's language (`localized` in applications_tags).
    translations: dict[str, dict[str, str]] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Factor:
    id: str
    label: str
    weight: int
    value: float  # 0 (no need) to 1 (most need)
    points: Decimal  # contribution to the score; the points sum to the score
    detail: str
    translations: dict[str, dict[str, str]] = field(default_factory=dict, compare=False)


@dataclass
class EligibilityOutcome:
    eligible: bool
    score: Decimal
    rules: list[RuleResult]
    factors: list[Factor]
    rules_version: str = RULES_VERSION

    def rules_json(self) -> list[dict[str, Any]]:
        return [asdict(r) for r in self.rules]

    def factors_json(self) -> list[dict[str, Any]]:
        return [{**asdict(f), "points": str(f.points)} for f in self.factors]

    @property
    def failed(self) -> list[RuleResult]:
        return [r for r in self.rules if r.blocking and not r.passed]


@dataclass
class EntityFacts:
    entity: LegalEntity
    audit_dates: list[date] = field(default_factory=list)
    latest_global_score: int | None = None
    latest_maturity: int | None = None
    scans: list[ScanPoint] = field(default_factory=list)
    last_scan_critical: int = 0
    last_scan_high: int = 0


@dataclass
class EligibilityInputs:
    application: Application
    call: FundingCall
    parameters: dict[str, Any]
    covered: list[EntityFacts]
    answers: Sequence[tuple[Answer, int]]  # with their evidence count
    brackets: list[CeilingBracket]
    first_submitted_at: datetime | None
    ght_active_member_ids: set[int]
    covered_elsewhere: list[str]  # names of covered entities also in another application


def call_parameters(call: FundingCall) -> dict[str, Any]:
    params = {**DEFAULT_PARAMETERS, **(call.parameters or {})}
    params["weights"] = {
        **DEFAULT_PARAMETERS["weights"],
        **(call.parameters or {}).get("weights", {}),
    }
    return params


def gather(application: Application) -> EligibilityInputs:
    """Everything the rules read, in 8 queries whatever the size of the application
    (9 for a GHT's application): `gather_many` on a batch of one."""
    gathered = gather_many([application.pk])
    if application.pk not in gathered:
        raise Application.DoesNotExist(f"No application {application.pk}.")
    return gathered[application.pk]


def gather_many(application_ids: Sequence[int]) -> dict[int, EligibilityInputs]:
    """What the rules read for a batch of applications, by application id, in the same
    fixed number of queries whatever the size of the batch or of its applications:
    scoring a call goes through batches of these (scoring.py)."""
    applications = list(
        Application.objects.select_related("call", "candidate__department", "candidate__ght")
        .filter(pk__in=list(application_ids))
        .order_by("pk")
    )
    if not applications:
        return {}
    app_ids = [a.pk for a in applications]
    # Covered entities per application, in a stable order (the rules list them).
    covered: dict[int, dict[int, LegalEntity]] = {pk: {} for pk in app_ids}
    for coverage in (
        Coverage.objects.filter(application_id__in=app_ids)
        .select_related("legal_entity__ght")
        .order_by("application_id", "id")
    ):
        covered[coverage.application_id][coverage.legal_entity_id] = coverage.legal_entity
    for application in applications:
        if not covered[application.pk]:  # an application always covers at least its candidate
            covered[application.pk][application.candidate_id] = application.candidate
    # Volet 1 facts per entity, shared by the applications of the batch that cover it.
    facts_of = {
        entity_id: EntityFacts(entity)
        for entities in covered.values()
        for entity_id, entity in entities.items()
    }
    entity_ids = sorted(facts_of)
    for entity_id, audit_date, score, level in (
        DirectoryAudit.objects.filter(legal_entity_id__in=entity_ids)
        .order_by("legal_entity_id", "audit_date", "id")
        .values_list("legal_entity_id", "audit_date", "global_score", "maturity_level")
    ):
        fact = facts_of[entity_id]
        fact.audit_dates.append(audit_date)
        fact.latest_global_score = score if score is not None else fact.latest_global_score
        fact.latest_maturity = level if level is not None else fact.latest_maturity
    for entity_id, scan_date, met, critical, high in (
        ExposureScan.objects.filter(legal_entity_id__in=entity_ids)
        .order_by("legal_entity_id", "scan_date")
        .values_list(
            "legal_entity_id", "scan_date", "minimum_level_met", "vulns_critical", "vulns_high"
        )
    ):
        fact = facts_of[entity_id]
        fact.scans.append(ScanPoint(scan_date, met))
        fact.last_scan_critical, fact.last_scan_high = critical, high

    answers: dict[int, list[tuple[Answer, int]]] = {pk: [] for pk in app_ids}
    for answer in (
        Answer.objects.filter(application_id__in=app_ids)
        .select_related("requirement")
        .annotate(evidence_count=Count("evidence", filter=Q(evidence__superseded_at__isnull=True)))
        .order_by("application_id", "requirement__position", "requirement__identifier")
    ):
        answers[answer.application_id].append((answer, answer.evidence_count))
    first_submitted = dict(
        Transition.objects.filter(application_id__in=app_ids, to_status=Status.SUBMITTED)
        .values("application_id")
        .annotate(first=Min("created_at"))
        .values_list("application_id", "first")
    )
    # The active members of the GHTs whose support establishment applies (E3).
    ght_ids = {
        a.candidate.ght_id
        for a in applications
        if a.candidate.is_ght_support and a.candidate.ght_id
    }
    ght_members: dict[int, set[int]] = {ght_id: set() for ght_id in ght_ids}
    if ght_ids:
        for entity_id, ght_id in LegalEntity.objects.filter(
            ght_id__in=ght_ids, active=True
        ).values_list("id", "ght_id"):
            ght_members[ght_id].add(entity_id)
    # The coverages of the same entities in the same calls, by (call, entity) (E3).
    call_ids = sorted({a.call_id for a in applications})
    covering: dict[tuple[int, int], list[tuple[int, str]]] = {}
    # A withdrawn application's entities are free again (`held()`).
    for call_id, entity_id, application_id, name in (
        Coverage.objects.held()
        .filter(call_id__in=call_ids, legal_entity_id__in=entity_ids)
        .values_list("call_id", "legal_entity_id", "application_id", "legal_entity__name")
    ):
        covering.setdefault((call_id, entity_id), []).append((application_id, name))
    brackets: dict[int, list[CeilingBracket]] = {call_id: [] for call_id in call_ids}
    for bracket in CeilingBracket.objects.filter(call_id__in=call_ids).order_by(
        "call_id", "min_staff"
    ):
        brackets[bracket.call_id].append(bracket)

    parameters: dict[int, dict[str, Any]] = {}
    gathered: dict[int, EligibilityInputs] = {}
    for application in applications:
        call = application.call
        if call.pk not in parameters:
            parameters[call.pk] = call_parameters(call)
        entities = covered[application.pk]
        candidate = application.candidate
        members: set[int] = set()
        if candidate.is_ght_support and candidate.ght_id:
            members = set(ght_members[candidate.ght_id])
        elsewhere = sorted(
            name
            for entity_id in entities
            for other_id, name in covering.get((call.pk, entity_id), [])
            if other_id != application.pk
        )
        gathered[application.pk] = EligibilityInputs(
            application=application,
            call=call,
            parameters=parameters[call.pk],
            covered=[facts_of[entity_id] for entity_id in entities],
            answers=answers[application.pk],
            brackets=brackets[call.pk],
            first_submitted_at=first_submitted.get(application.pk) or application.submitted_at,
            ght_active_member_ids=members,
            covered_elsewhere=elsewhere,
        )
    return gathered


def _euros(value: Decimal) -> str:
    return number_format(value.quantize(Decimal("1")), force_grouping=True) + " €"


def rule_e1(inputs: EligibilityInputs) -> RuleResult:
    candidate = inputs.application.candidate
    problems = []
    if not candidate.active:
        problems.append(_("l'entité est inactive dans l'annuaire"))
    if not is_valid_finess(candidate.finess):
        problems.append(_("son numéro FINESS est invalide"))
    if candidate.finess_category not in inputs.parameters["health_categories"]:
        problems.append(
            _("sa catégorie FINESS (%(category)s) n'est pas celle d'un établissement de santé")
            % {"category": candidate.finess_category or _("non renseignée")}
        )
    if problems:
        return RuleResult(
            "E1", False, _("Candidat non recevable : %(why)s.") % {"why": ", ".join(problems)}
        )
    return RuleResult(
        "E1",
        True,
        _("Établissement de santé actif, FINESS %(finess)s valide.") % {"finess": candidate.finess},
    )


def rule_e2(inputs: EligibilityInputs) -> RuleResult:
    group = inputs.application.candidate.statistics_group
    if group in inputs.call.eligible_groups:
        return RuleResult(
            "E2", True, _("Statut « %(group)s » éligible à cet appel.") % {"group": group.label}
        )
    return RuleResult(
        "E2",
        False,
        _("Le statut « %(group)s » n'est pas éligible à cet appel.") % {"group": group.label},
    )


def rule_e3(inputs: EligibilityInputs) -> RuleResult:
    candidate = inputs.application.candidate
    if (
        candidate.status_group == StatusGroup.PUBLIC
        and candidate.ght_id
        and not candidate.is_ght_support
    ):
        return RuleResult(
            "E3",
            False,
            _(
                "%(name)s est membre d'un GHT : elle doit être couverte par la candidature "
                "de son GHT."
            )
            % {"name": candidate.name},
        )
    if inputs.covered_elsewhere:
        return RuleResult(
            "E3",
            False,
            _("Entités déjà couvertes par une autre candidature à cet appel : %(names)s.")
            % {"names": ", ".join(inputs.covered_elsewhere)},
        )
    covered_ids = {f.entity.id for f in inputs.covered}
    missing = inputs.ght_active_member_ids - covered_ids
    if missing:
        return RuleResult(
            "E3",
            False,
            _("La candidature du GHT ne couvre pas %(n)d de ses membres actifs.")
            % {"n": len(missing)},
        )
    if inputs.ght_active_member_ids:
        return RuleResult(
            "E3",
            True,
            _("Candidature du GHT couvrant ses %(n)d membres actifs.") % {"n": len(covered_ids)},
        )
    return RuleResult("E3", True, _("Une seule candidature pour ce candidat à cet appel."))


def rule_e4(inputs: EligibilityInputs) -> RuleResult:
    submitted = inputs.first_submitted_at
    call = inputs.call
    if submitted is None:
        return RuleResult("E4", False, _("La candidature n'a pas été déposée."))
    when = date_format(timezone.localtime(submitted), "DATETIME_FORMAT")
    if call.opens_at <= submitted < call.closes_at:
        return RuleResult(
            "E4", True, _("Déposée le %(when)s, pendant la période de l'appel.") % {"when": when}
        )
    return RuleResult(
        "E4",
        False,
        _("Déposée le %(when)s, hors de la période de l'appel (du %(start)s au %(end)s).")
        % {
            "when": when,
            "start": date_format(timezone.localtime(call.opens_at), "DATETIME_FORMAT"),
            "end": date_format(timezone.localtime(call.closes_at), "DATETIME_FORMAT"),
        },
    )


def _day(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def counted_audit_dates(
    audit_dates: Sequence[date], valid_from: date | None
) -> tuple[list[date], list[date]]:
    """The AD audit dates a call counts (on or after its `volet1_valid_from`) and the
    outdated ones (before it), each in the given order."""
    if valid_from is None:
        return list(audit_dates), []
    return (
        [day for day in audit_dates if day >= valid_from],
        [day for day in audit_dates if day < valid_from],
    )


def _ad_gap(fact: EntityFacts, valid_from: date | None) -> tuple[bool, date | None]:
    """(AD objective missing for the call, the latest outdated audit when that is why)."""
    counted, outdated = counted_audit_dates(fact.audit_dates, valid_from)
    if counted:
        return False, None
    return True, max(outdated) if outdated else None


def rule_e5(inputs: EligibilityInputs) -> RuleResult:
    required = bool(inputs.parameters["volet1_required"])
    valid_from = inputs.call.volet1_valid_from
    missing = []
    for fact in inputs.covered:
        counted, _outdated = counted_audit_dates(fact.audit_dates, valid_from)
        status = compute_volet1_status(ad_audit_dates=counted, scans=fact.scans)
        ad_missing, outdated = _ad_gap(fact, valid_from)
        gaps = []
        if ad_missing and outdated is not None and valid_from is not None:
            gaps.append(
                _(
                    "audit AD obsolète : le dernier date du %(date)s, avant le %(start)s, "
                    "début de validité des audits pour cet appel"
                )
                % {"date": _day(outdated), "start": _day(valid_from)}
            )
        elif not status.ad_audit_done:
            gaps.append(_("audit AD"))
        if not status.exposure_objective_met:
            gaps.append(_("objectif d'exposition D1.O2.B"))
        if gaps:
            missing.append(f"{fact.entity.name} ({', '.join(gaps)})")
    if not missing:
        return RuleResult(
            "E5",
            True,
            _("Volet 1 : les %(n)d entités couvertes ont atteint les deux objectifs.")
            % {"n": len(inputs.covered)},
            required,
        )
    detail = _("Volet 1 incomplet pour : %(list)s.") % {"list": "; ".join(missing)}
    if not required:
        detail += " " + _("(pris en compte dans le score, non bloquant pour cet appel)")
    return RuleResult("E5", not required, detail, required)


def rule_e6(inputs: EligibilityInputs) -> RuleResult:
    problems = []
    for answer, evidence_count in inputs.answers:
        requirement = answer.requirement
        if requirement.kind != Requirement.Kind.PREREQUISITE:
            continue
        if answer.state != Answer.State.MET:
            problems.append(_("%(id)s non atteint") % {"id": requirement.identifier})
        elif (
            requirement.evidence_stage == Requirement.EvidenceStage.APPLICATION
            and not evidence_count
        ):
            problems.append(_("%(id)s sans pièce justificative") % {"id": requirement.identifier})
    if problems:
        return RuleResult(
            "E6", False, _("Prérequis non satisfaits : %(list)s.") % {"list": ", ".join(problems)}
        )
    count = sum(
        1 for a, _n in inputs.answers if a.requirement.kind == Requirement.Kind.PREREQUISITE
    )
    return RuleResult(
        "E6", True, _("Les %(n)d prérequis sont atteints et justifiés.") % {"n": count}
    )


def total_staff(inputs: EligibilityInputs) -> int:
    return sum(f.entity.staff_count or 0 for f in inputs.covered)


def ceiling_for(brackets: list[CeilingBracket], staff: int) -> Decimal | None:
    for bracket in brackets:
        if bracket.min_staff <= staff and (bracket.max_staff is None or staff <= bracket.max_staff):
            return bracket.ceiling
    return None


def rule_e7(inputs: EligibilityInputs) -> RuleResult:
    staff = total_staff(inputs)
    ceiling = ceiling_for(inputs.brackets, staff)
    requested = inputs.application.requested_amount
    if ceiling is None:
        return RuleResult(
            "E7",
            False,
            _("Aucun plafond n'est défini pour un effectif de %(staff)s.") % {"staff": staff},
        )
    values = {
        "requested": _euros(requested),
        "ceiling": _euros(ceiling),
        "staff": number_format(staff, force_grouping=True),
    }
    if requested <= ceiling:
        return RuleResult(
            "E7",
            True,
            _("Montant demandé %(requested)s, plafond %(ceiling)s pour un effectif de %(staff)s.")
            % values,
        )
    return RuleResult(
        "E7",
        False,
        _(
            "Montant demandé %(requested)s supérieur au plafond %(ceiling)s pour un effectif "
            "de %(staff)s."
        )
        % values,
    )


RULES = (rule_e1, rule_e2, rule_e3, rule_e4, rule_e5, rule_e6, rule_e7)


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default


def ad_detail(inputs: EligibilityInputs) -> str:
    """How the AD factor was read: maximum weakness counts only for entities without
    an audit, and is said only when there are some."""
    total = len(inputs.covered)
    missing = sum(1 for fact in inputs.covered if not fact.audit_dates)
    if not missing:
        return _("%(n)d entité(s) auditée(s) sur %(n)d") % {"n": total}
    return _(
        "%(audited)d entité(s) auditée(s) sur %(n)d ; faiblesse maximale retenue pour "
        "%(missing)d entité(s) sans audit"
    ) % {"audited": total - missing, "n": total, "missing": missing}


def priority_factors(inputs: EligibilityInputs) -> list[tuple[str, str, float, str]]:
    """(id, label, value 0–1, detail) per factor: higher value, more priority."""
    ad_values = []
    for fact in inputs.covered:
        score = 1.0 if fact.latest_global_score is None else fact.latest_global_score / 100
        level = 1.0 if fact.latest_maturity is None else (5 - fact.latest_maturity) / 4
        ad_values.append((score + level) / 2)
    exposure_values = [
        min(1.0, (3 * f.last_scan_critical + f.last_scan_high) / 10)
        for f in inputs.covered
        if f.scans
    ]
    wanted = set(inputs.parameters["maturity_requirements"])
    maturity_answers = [a for a, _n in inputs.answers if a.requirement.identifier in wanted]
    maturity = (
        sum(1 for a in maturity_answers if a.state != Answer.State.MET) / len(maturity_answers)
        if maturity_answers
        else 0.0
    )
    staff = total_staff(inputs)
    size = min(1.0, staff / max(1, int(inputs.parameters["size_full_staff"])))
    return [
        (
            "ad",
            _("Faiblesse de l'annuaire AD (score PingCastle, niveau ANSSI)"),
            _mean(ad_values, 1.0),
            ad_detail(inputs),
        ),
        (
            "exposure",
            _("Exposition sur internet (vulnérabilités critiques et élevées du dernier scan)"),
            _mean(exposure_values, 0.0),
            _("%(n)d entité(s) scannée(s)") % {"n": len(exposure_values)},
        ),
        (
            "maturity",
            _(
                "Maturité sauvegarde et continuité (copie hors ligne, test de restauration, "
                "exercice de crise)"
            ),
            maturity,
            _("%(n)d réponse(s) non atteinte(s) sur %(total)d")
            % {
                "n": sum(1 for a in maturity_answers if a.state != Answer.State.MET),
                "total": len(maturity_answers),
            },
        ),
        (
            "size",
            _("Taille (effectif SAE des entités couvertes)"),
            size,
            _("%(staff)s personnes") % {"staff": number_format(staff, force_grouping=True)},
        ),
    ]


def evaluate_inputs(inputs: EligibilityInputs) -> EligibilityOutcome:
    """The outcome worded in the portal's language (French), whatever the language of
    the request or task, with the wording of the other languages alongside: a stored
    result is read in English by an English reader."""
    with translation.override(settings.LANGUAGE_CODE):
        outcome = _evaluate_inputs(inputs)
    for code, _name in settings.LANGUAGES:
        if code == settings.LANGUAGE_CODE:
            continue
        with translation.override(code):
            other = _evaluate_inputs(inputs)
        for rule, worded in zip(outcome.rules, other.rules, strict=True):
            rule.translations[code] = {"detail": worded.detail}
        for factor, worded_factor in zip(outcome.factors, other.factors, strict=True):
            factor.translations[code] = {
                "label": worded_factor.label,
                "detail": worded_factor.detail,
            }
    return outcome


def _evaluate_inputs(inputs: EligibilityInputs) -> EligibilityOutcome:
    rules = [rule(inputs) for rule in RULES]
    weights = inputs.parameters["weights"]
    total_weight = sum(int(weights.get(fid, 0)) for fid, *_rest in priority_factors(inputs)) or 1
    factors = []
    for fid, label, value, detail in priority_factors(inputs):
        weight = int(weights.get(fid, 0))
        points = (Decimal(weight * value * 100) / total_weight).quantize(CENT, ROUND_HALF_UP)
        factors.append(Factor(fid, label, weight, round(value, 4), points, detail))
    score = sum((f.points for f in factors), Decimal("0"))
    eligible = all(r.passed for r in rules if r.blocking)
    return EligibilityOutcome(
        eligible=eligible, score=min(score, Decimal("100.00")), rules=rules, factors=factors
    )


def evaluate(application: Application) -> EligibilityOutcome:
    """`result.eligible`, `result.score` (0–100) and `result.rules` (id, passed, detail)."""
    return evaluate_inputs(gather(application))


def factor_rows(factors: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stored priority factors (`EligibilityResult.factors`), points as decimals and
    values as percentages: what the pages and the dossier show."""
    return [
        {
            **factor,
            "points": Decimal(str(factor.get("points", "0"))),
            "percent": round(float(factor.get("value", 0)) * 100),
        }
        for factor in factors
    ]


# --- The applicant's preview: the rules on the current data, nothing saved ---------------

# Where the data each rule reads is put right: the URL name of the page, reversed with
# the application's public id (answers, budget, submission) or with the public id of the
# legal entity concerned (its record in the directory, its Volet 1 page).
RULE_SECTIONS: dict[str, str] = {
    "E1": "establishments:legalentity-detail",
    "E2": "establishments:legalentity-detail",
    "E3": "establishments:legalentity-detail",
    "E4": "applications:application-submit",
    "E5": "audits:volet1-detail",
    "E6": "applications:application-answers",
    "E7": "applications:application-budget",
}


@dataclass(frozen=True)
class PreviewProblem:
    """A rule the application would fail: why, in plain words, and where to fix it."""

    rule: str
    reason: str
    where: str  # the name of the page or section that fixes it (a link's text)
    url: str


@dataclass(frozen=True)
class Volet1Gap:
    """A covered entity whose Volet 1 objectives are not (yet) reached."""

    entity: LegalEntity
    ad_missing: bool
    exposure_missing: bool
    url: str  # its Volet 1 page
    outdated_audit_date: date | None = None  # the latest audit, too old for the call
    valid_from: date | None = None  # the call's `volet1_valid_from`

    @property
    def outdated_sentence(self) -> str:
        assert self.outdated_audit_date is not None and self.valid_from is not None
        return _(
            "le dernier audit de l'annuaire Active Directory, du %(date)s, est obsolète : "
            "cet appel ne retient que les audits réalisés à partir du %(start)s"
        ) % {"date": _day(self.outdated_audit_date), "start": _day(self.valid_from)}

    @property
    def summary(self) -> str:
        gaps = []
        if self.ad_missing and self.outdated_audit_date is not None:
            gaps.append(self.outdated_sentence)
        elif self.ad_missing:
            gaps.append(_("aucun audit de l'annuaire Active Directory"))
        if self.exposure_missing:
            gaps.append(_("objectif d'exposition D1.O2.B non atteint"))
        return ", ".join(gaps)


@dataclass(frozen=True)
class Contradiction:
    """An answer "met" to a requirement the portal checks itself, which its data
    contradicts."""

    requirement_id: int
    identifier: str
    gaps: list[Volet1Gap]


@dataclass
class Preview:
    """What the eligibility rules would decide if the application were submitted now."""

    outcome: EligibilityOutcome
    problems: list[PreviewProblem]
    contradictions: dict[int, Contradiction]  # by requirement id

    @property
    def eligible(self) -> bool:
        return self.outcome.eligible

    @property
    def destinations(self) -> list[tuple[str, str]]:
        """(where, url) of the pages to visit, each once, in the order of the rules."""
        seen: dict[str, str] = {}
        for problem in self.problems:
            seen.setdefault(problem.url.split("#", 1)[0], problem.where)
        return [(where, url) for url, where in seen.items()]


def volet1_gaps(inputs: EligibilityInputs) -> list[Volet1Gap]:
    gaps = []
    valid_from = inputs.call.volet1_valid_from
    for fact in inputs.covered:
        counted, _outdated = counted_audit_dates(fact.audit_dates, valid_from)
        status = compute_volet1_status(ad_audit_dates=counted, scans=fact.scans)
        if not (status.ad_audit_done and status.exposure_objective_met):
            _missing, outdated = _ad_gap(fact, valid_from)
            gaps.append(
                Volet1Gap(
                    entity=fact.entity,
                    ad_missing=not status.ad_audit_done,
                    exposure_missing=not status.exposure_objective_met,
                    url=reverse(RULE_SECTIONS["E5"], args=[fact.entity.public_id]),
                    outdated_audit_date=outdated,
                    valid_from=valid_from,
                )
            )
    return gaps


def _directory_problem(inputs: EligibilityInputs, result: RuleResult) -> PreviewProblem:
    candidate = inputs.application.candidate
    return PreviewProblem(
        result.id,
        result.detail
        + " "
        + _(
            "Ces informations viennent de l'annuaire des établissements : si elles sont "
            "inexactes, signalez-le à votre ARS."
        ),
        _("Fiche de %(name)s dans l'annuaire") % {"name": candidate.name},
        reverse(RULE_SECTIONS[result.id], args=[candidate.public_id]),
    )


def _window_problem(inputs: EligibilityInputs, result: RuleResult) -> PreviewProblem:
    call = inputs.call
    values = {
        "start": date_format(timezone.localtime(call.opens_at), "DATETIME_FORMAT"),
        "end": date_format(timezone.localtime(call.closes_at), "DATETIME_FORMAT"),
    }
    if inputs.application.submitted_at is not None:  # returned: its first submission counts
        reason = result.detail
    elif timezone.now() < call.opens_at:
        reason = (
            _("L'appel n'ouvre que le %(start)s : une candidature déposée avant serait hors délai.")
            % values
        )
    else:
        reason = (
            _(
                "L'appel est clos depuis le %(end)s : une candidature déposée maintenant "
                "serait hors délai."
            )
            % values
        )
    return PreviewProblem(
        result.id,
        reason,
        _("Déclaration sur l'honneur et dépôt"),
        reverse(RULE_SECTIONS[result.id], args=[inputs.application.public_id]),
    )


def _volet1_problems(inputs: EligibilityInputs, gaps: list[Volet1Gap]) -> list[PreviewProblem]:
    today = timezone.localdate()
    scans = {fact.entity.id: fact.scans for fact in inputs.covered}
    problems = []
    for gap in gaps:
        steps = []
        if gap.ad_missing and gap.outdated_audit_date is not None:
            steps.append(
                _("Audit de l'annuaire Active Directory obsolète : %(why)s.")
                % {"why": gap.outdated_sentence}
            )
        elif gap.ad_missing:
            steps.append(
                _("Aucun audit de l'annuaire Active Directory (PingCastle) n'est enregistré.")
            )
        if gap.exposure_missing:
            steps.append(
                _("Objectif d'exposition D1.O2.B non atteint. %(next)s")
                % {"next": exposure_next_step(scans[gap.entity.id], today)}
            )
        problems.append(
            PreviewProblem(
                "E5",
                " ".join(steps),
                _("Volet 1 de %(name)s") % {"name": gap.entity.name},
                gap.url,
            )
        )
    return problems


def _answer_problems(inputs: EligibilityInputs) -> list[PreviewProblem]:
    url = reverse(RULE_SECTIONS["E6"], args=[inputs.application.public_id])
    problems = []
    for answer, evidence_count in inputs.answers:
        requirement = answer.requirement
        if requirement.kind != Requirement.Kind.PREREQUISITE:
            continue
        values = {"id": requirement.identifier, "state": answer.get_state_display()}
        if not answer.state:
            reason = _("Le prérequis %(id)s n'a pas de réponse : il doit être atteint.") % values
        elif answer.state != Answer.State.MET:
            reason = (
                _("Le prérequis %(id)s doit être atteint (réponse actuelle : « %(state)s »).")
                % values
            )
        elif (
            requirement.evidence_stage == Requirement.EvidenceStage.APPLICATION
            and not evidence_count
        ):
            reason = _("Le prérequis %(id)s doit être justifié par une pièce jointe.") % values
        else:
            continue
        problems.append(
            PreviewProblem(
                "E6", reason, _("Réponses aux exigences"), f"{url}#answer-{requirement.pk}"
            )
        )
    return problems


def _budget_problem(inputs: EligibilityInputs, result: RuleResult) -> PreviewProblem:
    reason = result.detail
    if ceiling_for(inputs.brackets, total_staff(inputs)) is not None:
        reason += " " + _("Réduisez le budget prévisionnel à ce plafond au plus.")
    return PreviewProblem(
        result.id,
        reason,
        _("Budget prévisionnel"),
        reverse(RULE_SECTIONS[result.id], args=[inputs.application.public_id]),
    )


def contradictions(inputs: EligibilityInputs, gaps: list[Volet1Gap]) -> dict[int, Contradiction]:
    """Answers "met" to a Volet 1 prerequisite while a covered entity has not reached
    the Volet 1 objectives."""
    if not gaps:
        return {}
    checked = set(inputs.parameters.get("volet1_requirements") or [])
    return {
        answer.requirement_id: Contradiction(
            answer.requirement_id, answer.requirement.identifier, gaps
        )
        for answer, _count in inputs.answers
        if answer.requirement.identifier in checked and answer.state == Answer.State.MET
    }


def preview(application: Application) -> Preview:
    """The rules on the application's current data, as if it were submitted now (or at
    its first submission, for one returned for complements). Nothing is written."""
    inputs = gather(application)
    if inputs.first_submitted_at is None:
        inputs = replace(inputs, first_submitted_at=timezone.now())
    # Shown now, never stored: worded in the reader's language only.
    outcome = _evaluate_inputs(inputs)
    gaps = volet1_gaps(inputs)
    problems: list[PreviewProblem] = []
    for result in outcome.failed:
        if result.id in ("E1", "E2", "E3"):
            problems.append(_directory_problem(inputs, result))
        elif result.id == "E4":
            problems.append(_window_problem(inputs, result))
        elif result.id == "E5":
            problems.extend(_volet1_problems(inputs, gaps))
        elif result.id == "E6":
            problems.extend(_answer_problems(inputs))
        elif result.id == "E7":
            problems.append(_budget_problem(inputs, result))
    return Preview(outcome, problems, contradictions(inputs, gaps))
