"""Demo funding calls and applications: the closed D1 call with its history, the open D2
call with applications in every state of the lifecycle.

`seed_calls(now=…)` writes the two calls modelled on the real ones (DOMAIN.md):
- `D1-2024`, « annuaires techniques et exposition sur internet », 65 M€, closed (window
  of 18 March - 19 April 2024), objectives D1.O1 (AD audit), D1.O2.A and D1.O2.B
  (internet exposure);
- `D2-2025`, « stratégie de continuité et de reprise d'activité », 45 M€, prerequisites
  D2.P1-D2.P4 and objectives D2.O1.A-D2.O4 (PCRA of a care service, of the most
  critical administrative process and of a technical-platform service, one PCRA tested
  by November 2026, 3-2-1 backups, a restore test). Its window is moved so that it is
  open on the day of the seed: it opens 30 days before `now` (at midnight) and closes
  60 days after (at 23:59), Europe/Paris. A re-run recomputes that window, the only
  thing it changes in an existing call.
Ceiling brackets are examples (real ceilings are not public).

`seed_applications(seed=…)` then gives both calls applications from the legal entities
already in the database (`seed_demo` passes its own), with the rules of the services:
a GHT's application is filed by its support establishment and covers every active
member (D1 as well as D2), a public member of a GHT never files alone, an inactive
entity never files, an entity is covered once per call, every requirement has an
answer, the requested amount is the total of the budget lines, and the transitions
follow the lifecycle table (`applications.transitions`) from `draft` to the status.
- D1: the entities with Volet 1 results (audits or scans) filed; their application
  went through the instruction in 2024 and most reached `paid` or
  `objectives_validated` once their Volet 1 objectives were met (the dates follow the
  audits and scans of `demo.volet1`); a few non-participants filed and withdrew, were
  refused or never submitted. All dates are fixed, in 2024-2025.
- D2: about 60% of the entities that may file, spread over every status (a minimum of
  one each, whatever the size), most under instruction; dates fall in the 30 days the
  call has been open (never today), inside its window (E4). A candidate one of whose
  covered entities has not met both Volet 1 objectives (E5, required by the call; for
  a GHT, every active member) and the eligible candidates whose budget exceeds the
  ceiling (E7) end `ineligible`, or are still in `draft`/`submitted`, or withdrew; the
  others stay under their ceiling. A submitted application has every prerequisite met,
  with its file when the requirement asks for one at the application (E6).
  etablissement@demo.test's entity has a partly filled draft, ght@demo.test's GHT an
  application under regional review (reconsidered by the ministry after being found
  ineligible when one of its members has not met both Volet 1 objectives).
  Every D2 application that went through scoring (submitted → regional review or
  ineligible) and is no longer `submitted` gets its `EligibilityResult`, computed by
  the rules (`applications.eligibility.evaluate`) on the data just written, so that it
  agrees with the status: not eligible when `ineligible`, eligible when it went on to
  regional review (but after a reconsideration by the ministry, which may overrule the
  rules). It is dated at that first scoring, or at the reconsideration when the rules
  now find the application eligible (results of Volet 1 imported late).

Draws come from `random.Random(f"{seed}-{call}-{finess}")` per candidate plus one
generator per call for the spread of the D2 statuses: the same seed gives the same
applications. References are `<call code>-S<FINESS of the candidate>`, a pattern the
service (`<call code>-<id:06d>`) never produces, unique because there is one
application per candidate and call. A candidate that already has an application to
the call (an earlier run, or a real one), or one of whose entities is already covered,
is left alone: a second run creates nothing.

Volet 1 levels are read from `audits.models.Volet1Status`: run `demo.volet1.seed_volet1`
first. Actors: the demo accounts where they fit (the candidate's own demo account, the ARS
account for its region, the ministry account nationally), else none (shown as an
automatic step). Returns outside the ARS account's region are made by the ministry, so
that every request for complements has an author.

Evidence: small PDFs written to the default storage. A file whose application may still
become editable (and whose evidence the applicant may therefore delete, which deletes
the file) is its own; the evidence of applications that can never be edited again
(decided, withdrawn, objectives declared and after, the whole of D1) shares one stored
file per requirement.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.utils import timezone, translation
from django.utils.text import slugify

from accounts.models import Membership
from applications.eligibility import evaluate
from applications.evidence import storage_name
from applications.models import (
    Answer,
    Application,
    BudgetLine,
    CeilingBracket,
    Coverage,
    EligibilityResult,
    Evidence,
    FundingCall,
    Message,
    Requirement,
    Transition,
)
from applications.transitions import EDITABLE_STATUSES, TRANSITIONS, Actor, Status, rule_for
from audits.models import Volet1Level, Volet1Status
from demo.common import STOP_WORDS, Writer, chunks
from demo.common import count as _n
from demo.common import share as _share
from establishments.models import LegalEntity, StatusGroup

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

S = Status
# Spread of the D2 applications (the call is current: most under instruction).
D2_STATUS_WEIGHTS: dict[str, float] = {
    S.DRAFT.value: 9,
    S.SUBMITTED.value: 14,
    S.INELIGIBLE.value: 7,
    S.REGIONAL_REVIEW.value: 20,
    S.RETURNED.value: 5,
    S.NATIONAL_REVIEW.value: 14,
    S.APPROVED.value: 13,
    S.REJECTED.value: 3,
    S.WITHDRAWN.value: 4,
    S.OBJECTIVES_DECLARED.value: 4,
    S.OBJECTIVES_CHECKED.value: 3,
    S.OBJECTIVES_VALIDATED.value: 2,
    S.PAID.value: 2,
}
# Without Volet 1 results (E5, required for D2) a candidate goes no further than these.
NO_VOLET1_STATUSES = (S.INELIGIBLE.value, S.DRAFT.value, S.SUBMITTED.value, S.WITHDRAWN.value)
# Share of the entities that may file which file to D2, by Volet 1 level.
D2_PARTICIPATION: dict[str, float] = {
    Volet1Level.BOTH.value: 0.70,
    Volet1Level.AD_DONE.value: 0.45,
    Volet1Level.EXPOSURE_MET.value: 0.45,
    Volet1Level.NONE.value: 0.2,
}
D2_GHT_PARTICIPATION = 0.9


def _reachable_editable() -> frozenset[str]:
    """Statuses from which `draft` or `returned` can still be reached: the evidence of
    an application in any other status can never be deleted by the applicant again, so
    it may share stored files."""
    result = set(EDITABLE_STATUSES)
    changed = True
    while changed:
        changed = False
        for status, targets in TRANSITIONS.items():
            if status not in result and targets & result:
                result.add(status)
                changed = True
    return frozenset(result)


CAN_BECOME_EDITABLE = _reachable_editable()


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

D1_REQUIREMENTS = (
    RequirementSpec(
        "D1.O1",
        OBJ,
        "Audit de l'annuaire technique (Active Directory)",
        "Audit de chaque domaine Active Directory avec ORADAD ou PingCastle, niveau de "
        "maturité ANSSI établi et plan d'action de remédiation.",
        "Rapport d'audit (ORADAD ou PingCastle) et plan d'action.",
        AT_DECLARATION,
        "rapport-audit-annuaire-AD.pdf",
        "Rapport d'audit de l'annuaire Active Directory",
    ),
    RequirementSpec(
        "D1.O2.A",
        OBJ,
        "Audit d'exposition sur internet",
        "Inscription au service d'audit d'exposition de l'ANSSI (SILENE) et premier rapport reçu.",
        "Rapport d'audit d'exposition SILENE.",
        AT_DECLARATION,
        "rapport-SILENE.pdf",
        "Rapport d'audit d'exposition sur internet (SILENE)",
    ),
    RequirementSpec(
        "D1.O2.B",
        OBJ,
        "Niveau minimal de sécurité de l'exposition sur internet",
        "Deux audits d'exposition successifs, espacés de 45 à 60 jours, montrant le niveau "
        "minimal de sécurité de l'exposition sur internet.",
        "Les deux rapports SILENE successifs.",
        AT_DECLARATION,
        "rapports-SILENE-successifs.pdf",
        "Deux rapports SILENE successifs conformes au niveau minimal",
    ),
)

D2_REQUIREMENTS = (
    RequirementSpec(
        "D2.P1",
        PRE,
        "Audit Volet 1 réalisé (annuaire AD et exposition)",
        "Audit de l'annuaire technique (Active Directory) réalisé et audits d'exposition sur "
        "internet (SILENE) suivis, pour chaque entité couverte par la candidature.",
        "Aucune pièce : vérifié par le portail à partir des résultats du Volet 1.",
        NO_EVIDENCE,
    ),
    RequirementSpec(
        "D2.P2",
        PRE,
        "Analyse d'impact sur l'activité (BIA) des processus critiques",
        "BIA couvrant les processus de soins, administratifs et médico-techniques, avec la "
        "durée maximale d'interruption admissible (DMIA) et la perte de données maximale "
        "admissible (PDMA) de chacun.",
        "Rapport de BIA daté et validé par la direction.",
        AT_APPLICATION,
        "analyse-impact-activite-BIA.pdf",
        "Analyse d'impact sur l'activité (BIA)",
    ),
    RequirementSpec(
        "D2.P3",
        PRE,
        "Gouvernance de crise désignée (cellule de crise, RPCA)",
        "Cellule de crise constituée (direction, soins, systèmes d'information, logistique, "
        "communication) et responsable du plan de continuité d'activité (RPCA) désigné.",
        "Note de désignation de la cellule de crise et du RPCA signée par la direction.",
        AT_APPLICATION,
        "note-designation-cellule-de-crise-RPCA.pdf",
        "Note de désignation de la cellule de crise et du RPCA",
    ),
    RequirementSpec(
        "D2.P4",
        PRE,
        "Exercice de crise cyber réalisé depuis moins de 2 ans (instruction SHFDS/FSSI/2023/15)",
        "Au moins un exercice de crise d'origine cyber joué dans les 24 derniers mois, avec "
        "retour d'expérience (RETEX) et plan d'actions.",
        "Compte rendu de l'exercice et RETEX.",
        AT_APPLICATION,
        "compte-rendu-exercice-crise-cyber.pdf",
        "Compte rendu d'exercice de crise cyber et RETEX",
    ),
    RequirementSpec(
        "D2.O1.A",
        OBJ,
        "PCRA d'un service de soins à impact majeur",
        "Plan de continuité et de reprise d'activité (PCRA) rédigé et validé pour au moins un "
        "service de soins à impact majeur (urgences, bloc opératoire, réanimation…), "
        "couvrant le scénario « SI indisponible » et un autre scénario (site, personnel ou "
        "fournisseur indisponible).",
        "PCRA du service validé par la direction ; procédures de fonctionnement en mode dégradé.",
        AT_DECLARATION,
        "PCRA-service-de-soins.pdf",
        "PCRA d'un service de soins à impact majeur",
    ),
    RequirementSpec(
        "D2.O1.B",
        OBJ,
        "PCRA du processus administratif le plus critique",
        "PCRA rédigé et validé pour le processus administratif le plus critique selon la BIA "
        "(admissions, facturation, paie…).",
        "PCRA du processus validé ; extrait de la BIA justifiant le choix.",
        AT_DECLARATION,
        "PCRA-processus-administratif.pdf",
        "PCRA du processus administratif le plus critique",
    ),
    RequirementSpec(
        "D2.O1.C",
        OBJ,
        "PCRA d'un service du plateau technique (pharmacie, biologie ou imagerie)",
        "PCRA rédigé et validé pour au moins un service du plateau technique : pharmacie, "
        "biologie ou imagerie.",
        "PCRA du service validé par la direction.",
        AT_DECLARATION,
        "PCRA-plateau-technique.pdf",
        "PCRA d'un service du plateau technique",
    ),
    RequirementSpec(
        "D2.O2",
        OBJ,
        "Au moins un PCRA testé d'ici novembre 2026 et calendrier de test des autres",
        "Un PCRA au moins testé (exercice ou situation réelle) avant le 30 novembre 2026 ; "
        "calendrier de test des autres PCRA adopté par la direction.",
        "Compte rendu du test et calendrier de test des autres PCRA.",
        AT_DECLARATION,
        "compte-rendu-test-PCRA-et-calendrier.pdf",
        "Compte rendu de test de PCRA et calendrier des tests",
    ),
    RequirementSpec(
        "D2.O3",
        OBJ,
        "Sauvegardes 3-2-1 avec au moins une copie hors ligne ou immuable, authentification "
        "forte et supervision",
        "Sauvegardes des systèmes critiques selon la règle 3-2-1 (trois copies, deux supports, "
        "une copie hors site) dont au moins une copie hors ligne ou immuable ; administration "
        "des sauvegardes cloisonnée et protégée par une authentification forte ; supervision "
        "des sauvegardes.",
        "Schéma de l'architecture de sauvegarde, politique de sauvegarde et rapport de "
        "supervision.",
        AT_DECLARATION,
        "architecture-sauvegardes-3-2-1.pdf",
        "Architecture et politique de sauvegarde 3-2-1",
    ),
    RequirementSpec(
        "D2.O4",
        OBJ,
        "Test de restauration d'un système critique",
        "Restauration complète d'au moins un système critique (DPI, PACS, système de "
        "laboratoire…) testée depuis les sauvegardes, avec mesure de la durée de reprise.",
        "Procès-verbal du test de restauration (périmètre, durée mesurée, écarts).",
        AT_DECLARATION,
        "PV-test-de-restauration.pdf",
        "Procès-verbal de test de restauration",
    ),
)
SPECS = {spec.identifier: spec for spec in (*D1_REQUIREMENTS, *D2_REQUIREMENTS)}

# (min staff, max staff, ceiling in euros): examples, the real ceilings are not public.
D1_BRACKETS = ((0, 299, 40_000), (300, 999, 80_000), (1000, 2999, 150_000), (3000, None, 300_000))
D2_BRACKETS = (
    (0, 299, 150_000),
    (300, 999, 300_000),
    (1000, 2999, 500_000),
    (3000, None, 900_000),
)

D1_DESCRIPTION = (
    "Arrêté du 18 mars 2024, enveloppe de 65 M€. Finance les audits des annuaires "
    "techniques (Active Directory, avec ORADAD ou PingCastle) et la réduction de "
    "l'exposition sur internet suivie par les audits SILENE de l'ANSSI. Paiement à "
    "l'atteinte des objectifs. Données de démonstration : les plafonds sont des exemples."
)
D2_DESCRIPTION = (
    "Arrêté du 3 juillet 2025 (publié le 16 juillet 2025), enveloppe de 45 M€. Finance "
    "l'écriture, la sécurisation et le test des plans de continuité et de reprise "
    "d'activité (PCA/PRA, « PCRA »), côté soins et côté systèmes d'information. La "
    "participation au Volet 1 est requise. Données de démonstration : la fenêtre de "
    "candidature est décalée pour rester ouverte et les plafonds sont des exemples (les "
    "plafonds réels ne sont pas publics)."
)


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
    created = 0
    d1, was_created = FundingCall.objects.get_or_create(
        code=D1_CODE,
        defaults={
            "domain": FundingCall.Domain.D1,
            "title": "Appel à financement CaRE – Domaine 1 : annuaires techniques et "
            "exposition sur internet",
            "description": D1_DESCRIPTION,
            "opens_at": D1_OPENS,
            "closes_at": D1_CLOSES,
            "envelope": Decimal("65000000.00"),
            "eligible_groups": ALL_GROUPS,
            "parameters": {"volet1_required": False},
        },
    )
    created += was_created
    d2, was_created = FundingCall.objects.get_or_create(
        code=D2_CODE,
        defaults={
            "domain": FundingCall.Domain.D2,
            "title": "Appel à financement CaRE – Domaine 2 : stratégie de continuité et de "
            "reprise d'activité",
            "description": D2_DESCRIPTION,
            "opens_at": opens,
            "closes_at": closes,
            "envelope": Decimal("45000000.00"),
            "eligible_groups": ALL_GROUPS,
            "parameters": {
                "volet1_required": True,
                "weights": {"ad": 35, "exposure": 25, "maturity": 30, "size": 10},
            },
        },
    )
    created += was_created
    if not was_created and (d2.opens_at, d2.closes_at) != (opens, closes):
        FundingCall.objects.filter(pk=d2.pk).update(
            opens_at=opens, closes_at=closes, updated_at=timezone.now()
        )
        d2.opens_at, d2.closes_at = opens, closes
    for call, specs, brackets in (
        (d1, D1_REQUIREMENTS, D1_BRACKETS),
        (d2, D2_REQUIREMENTS, D2_BRACKETS),
    ):
        Requirement.objects.bulk_create(
            [
                Requirement(
                    call=call,
                    identifier=spec.identifier,
                    kind=spec.kind,
                    label=spec.label,
                    target=spec.target,
                    evidence=spec.evidence,
                    evidence_stage=spec.evidence_stage,
                    position=position,
                )
                for position, spec in enumerate(specs, start=1)
            ],
            ignore_conflicts=True,
        )
        CeilingBracket.objects.bulk_create(
            [
                CeilingBracket(call=call, min_staff=low, max_staff=high, ceiling=Decimal(ceiling))
                for low, high, ceiling in brackets
            ],
            ignore_conflicts=True,
        )
    return d1, d2, created


# --------------------------------------------------------------------------- words

# fmt: off
FIRST_NAMES = [
    "Claire", "Nathalie", "Isabelle", "Sophie", "Catherine", "Valérie", "Sandrine", "Hélène",
    "Céline", "Émilie", "Aurélie", "Julie", "Camille", "Marion", "Anne", "Delphine", "Laure",
    "Agnès", "Florence", "Élodie", "Philippe", "Laurent", "Stéphane", "Nicolas", "Christophe",
    "Olivier", "Thierry", "Frédéric", "Sébastien", "Julien", "Pierre", "François", "Éric",
    "Jérôme", "David", "Mathieu", "Vincent", "Antoine", "Guillaume", "Benoît", "Karim", "Yann",
]
LAST_NAMES = [
    "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau",
    "Laurent", "Simon", "Michel", "Lefèvre", "Leroy", "Roux", "David", "Bertrand", "Morel",
    "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent",
    "Muller", "Lefebvre", "Faure", "André", "Mercier", "Blanc", "Guérin", "Boyer", "Garnier",
    "Chevalier", "François", "Legrand", "Gauthier", "Garcia", "Perrin", "Robin", "Clément",
    "Morin", "Nicolas", "Henry", "Roussel", "Mathieu", "Gautier", "Masson", "Marchand",
    "Duval", "Denis", "Dumont", "Marie", "Lemaire", "Noël", "Meyer", "Dufour", "Meunier",
    "Brun", "Blanchard", "Giraud", "Joly", "Rivière", "Lucas", "Brunet", "Gaillard", "Barbier",
    "Arnaud", "Le Gall", "Kerbrat", "Nguyen", "Benali", "Haddad", "Da Silva", "Ferreira",
]
# fmt: on

BUDGET_POOLS: dict[str, dict[str, list[str]]] = {
    "D2": {
        BudgetLine.Category.CONSULTING: [
            "Accompagnement à la rédaction des PCRA (cabinet spécialisé)",
            "Analyse d'impact sur l'activité (BIA) avec un prestataire",
            "Assistance à maîtrise d'ouvrage pour le plan de reprise informatique",
        ],
        BudgetLine.Category.STAFF: [
            "Temps du RPCA consacré au projet (0,3 ETP sur 12 mois)",
            "Renfort d'un ingénieur système pour les tests de restauration",
            "Chef de projet continuité d'activité (0,5 ETP sur 18 mois)",
        ],
        BudgetLine.Category.SOFTWARE: [
            "Solution de sauvegarde avec copie immuable (licences sur 3 ans)",
            "Outil de gestion de crise et d'annuaire d'astreinte",
            "Supervision des sauvegardes et alertes",
        ],
        BudgetLine.Category.HARDWARE: [
            "Baie de stockage dédiée aux sauvegardes immuables",
            "Bandothèque LTO pour la copie hors ligne",
            "Serveurs de restauration isolés du réseau de production",
        ],
        BudgetLine.Category.TRAINING: [
            "Exercice de crise cyber avec simulation (prestataire)",
            "Formation des équipes de soins au fonctionnement en mode dégradé",
            "Formation de la cellule de crise",
        ],
        BudgetLine.Category.OTHER: [
            "Kits de fonctionnement en mode dégradé (formulaires, impressions)",
            "Téléphonie de secours pour la cellule de crise",
        ],
    },
    "D1": {
        BudgetLine.Category.CONSULTING: [
            "Audit de l'annuaire Active Directory par un prestataire qualifié",
            "Accompagnement à la remédiation de l'annuaire",
            "Revue des services exposés sur internet",
        ],
        BudgetLine.Category.STAFF: [
            "Temps de l'équipe système consacré à la remédiation",
            "Renfort d'un administrateur pour le durcissement de l'annuaire",
        ],
        BudgetLine.Category.SOFTWARE: [
            "Licence PingCastle Pro et outil de supervision de l'annuaire",
            "Pare-feu applicatif pour les services exposés",
        ],
        BudgetLine.Category.TRAINING: [
            "Formation des administrateurs à la sécurité de l'Active Directory",
        ],
        BudgetLine.Category.OTHER: [
            "Mise à niveau des services exposés (VPN, messagerie)",
        ],
    },
}

ANSWER_COMMENTS: dict[str, list[str]] = {
    "D2.P1": ["Audit PingCastle et audits SILENE suivis depuis 2024."],
    "D2.P2": [
        "BIA menée avec les chefs de pôle : 14 processus analysés, DMIA et PDMA validées en "
        "comité de direction.",
        "BIA mise à jour après le dernier exercice : urgences, bloc et pharmacie classés "
        "critiques.",
    ],
    "D2.P3": [
        "Cellule de crise de huit membres ; RPCA désigné par note de la direction générale.",
        "Le RPCA est l'adjoint du directeur des soins, suppléé par le RSSI.",
    ],
    "D2.P4": [
        "Exercice « rançongiciel sur le DPI » joué avec l'ARS ; RETEX et plan de 12 actions.",
        "Exercice sur table avec le CERT Santé ; RETEX validé en comité de direction.",
    ],
    "D2.O1.A": [
        "PCRA des urgences : rédaction en cours avec l'équipe médicale.",
        "Service retenu : bloc opératoire ; procédures dégradées en relecture.",
    ],
    "D2.O1.B": ["Processus retenu : admissions et facturation (DMIA de 48 heures)."],
    "D2.O1.C": [
        "Pharmacie à usage intérieur : dispensation en mode dégradé rédigée.",
        "Imagerie : reprise du PACS prévue depuis la copie immuable.",
    ],
    "D2.O2": ["Test du PCRA des urgences prévu au printemps 2026 ; calendrier en cours."],
    "D2.O3": [
        "Copie immuable sur une baie dédiée ; authentification forte des comptes "
        "d'administration des sauvegardes en cours de déploiement."
    ],
    "D2.O4": ["Restauration complète du PACS testée en 9 heures ; écarts corrigés."],
    "D1.O1": ["Audit PingCastle de tous les domaines ; plan d'action validé par la DSI."],
    "D1.O2.A": ["Inscription au service SILENE faite, rapports mensuels reçus."],
    "D1.O2.B": ["Niveau minimal atteint après la fermeture des accès RDP exposés."],
}

COMMENTS = {
    "return_regional": [
        "Merci de joindre la BIA signée par la direction : le document transmis est un brouillon.",
        "La ligne budgétaire « Autre » n'est pas détaillée : précisez la nature des dépenses.",
        "Le compte rendu d'exercice de crise date de plus de deux ans : joignez celui du "
        "dernier exercice.",
        "Précisez le service de soins retenu pour le PCRA (objectif D2.O1.A).",
    ],
    "return_national": [
        "Le montant demandé pour le matériel de sauvegarde paraît élevé pour la taille de "
        "l'établissement : joignez un devis.",
        "Précisez le calendrier de test des PCRA (objectif D2.O2).",
        "La note de désignation du RPCA n'est pas signée : joignez la version signée.",
    ],
    "reject": [
        "Dossier refusé : les dépenses présentées ne relèvent pas du domaine financé "
        "(renouvellement du parc bureautique).",
        "Dossier refusé : la BIA fournie ne couvre aucun processus de soins.",
    ],
    "reject_D1": [
        "Dossier refusé : aucun audit de l'annuaire technique n'a été engagé.",
        "Dossier refusé : les dépenses présentées sont antérieures à l'appel.",
    ],
    "reconsider": [
        "Résultats du Volet 1 transmis par l'ARS (import tardif des audits) : éligibilité "
        "réexaminée.",
    ],
    "refuse_evidence": [
        "Le procès-verbal du test de restauration ne précise pas la durée de reprise mesurée : "
        "complétez-le.",
        "Le PCRA du plateau technique n'est pas signé par la direction.",
    ],
    "withdraw": [
        "Candidature retirée : le projet est reporté à l'an prochain.",
        "Candidature retirée : le dossier sera déposé par le GHT.",
        "",
    ],
}
INELIGIBLE_E5 = (
    "Critère E5 non rempli : les objectifs du Volet 1 (audit de l'annuaire et niveau minimal "
    "de sécurité de l'exposition) ne sont pas atteints pour l'entité candidate."
)
INELIGIBLE_E5_GHT = (
    "Critère E5 non rempli : les objectifs du Volet 1 (audit de l'annuaire et niveau minimal "
    "de sécurité de l'exposition) ne sont pas atteints pour tous les membres du GHT couverts "
    "par la candidature."
)
# The ministry's reconsideration of an application still ineligible by the rules.
RECONSIDER_VOLET1_PENDING = (
    "Éligibilité réexaminée par le ministère : les entités couvertes dont le Volet 1 est "
    "incomplet s'engagent à en atteindre les objectifs avant la décision ; l'instruction "
    "régionale peut commencer."
)
MESSAGES = {
    "regional": [
        "Bonjour, l'ARS a bien reçu votre dossier ; l'instruction régionale est en cours. "
        "Nous reviendrons vers vous sous quinze jours.",
        "Bonjour, pouvez-vous nous indiquer la date du prochain exercice de crise ? L'ARS "
        "souhaite y assister en observatrice.",
    ],
    "ministry": [
        "Bonjour, le dossier est en instruction nationale. Pouvez-vous confirmer que la copie "
        "hors ligne des sauvegardes couvre aussi le DPI ?",
        "Bonjour, merci pour la qualité du dossier. Une question : le test de restauration "
        "portera-t-il sur le PACS ou sur le DPI ?",
    ],
    "reply": [
        "Bonjour, les compléments demandés ont été ajoutés à la section Exigences. Cordialement.",
    ],
    "payment_D1": [
        "Le versement a été ordonné ; il apparaîtra sur le compte de "
        "l'établissement sous trois semaines."
    ],
}


def _eur(amount: Decimal) -> str:
    return f"{int(amount):,}".replace(",", "\u202f") + "\u00a0€"


def _mail_domain(name: str) -> str:
    words = [w for w in slugify(name.replace("'", " ")).split("-") if w not in STOP_WORDS]
    label = "-".join(words)[:40].strip("-") or "etablissement"
    return f"{label}.test"


def _person(rng: random.Random, domain: str) -> tuple[str, str]:
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


@dataclass(frozen=True)
class StoredFile:
    name: str
    size: int
    sha256: str


class _Files:
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
                    "Document fictif généré pour la démonstration du portail CaRE :",
                    "il ne contient aucune donnée réelle.",
                ]
            )
        return self.shared_files[identifier]

    def discard(self) -> None:
        for name in self.written:
            default_storage.delete(name)


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Candidate:
    """A legal entity that may file (active, not a public member of a GHT), with what
    its application covers and its Volet 1 results (a GHT: those of its support)."""

    id: int
    finess: str
    name: str
    region_id: int
    is_ght_support: bool
    ght_id: int | None
    covered: tuple[int, ...]
    staff: int  # SAE staff of the covered entities
    level: str
    volet1_met: bool  # every covered entity met both Volet 1 objectives (E5)
    ad_audit_date: date | None
    second_scan_date: date | None
    last_scan_date: date | None

    @property
    def has_volet1(self) -> bool:
        return self.ad_audit_date is not None or self.last_scan_date is not None


@dataclass
class Context:
    seed: int
    establishment_users: dict[int, int] = field(default_factory=dict)  # entity -> user
    regional_user: int | None = None
    regional_region: int | None = None
    ministry_user: int | None = None
    demo_entity: int | None = None  # etablissement@demo.test's
    ght_support: int | None = None  # ght@demo.test's

    def actor(self, rule_actors: frozenset[str], candidate: Candidate) -> int | None:
        if Actor.ESTABLISHMENT in rule_actors:
            return self.establishment_users.get(candidate.id)
        if Actor.REGIONAL in rule_actors:
            return self.regional_user if candidate.region_id == self.regional_region else None
        if Actor.MINISTRY in rule_actors:
            return self.ministry_user
        return None  # the system

    def regional_here(self, candidate: Candidate) -> bool:
        return self.regional_user is not None and candidate.region_id == self.regional_region


def _context(seed: int) -> Context:
    ctx = Context(seed=seed)
    rows = (
        Membership.objects.filter(user__email__in=list(DEMO_EMAILS.values()), user__is_active=True)
        .order_by("id")
        .values_list("user__email", "user_id", "role", "legal_entity_id", "region_id")
    )
    for email, user_id, role, entity_id, region_id in rows:
        if email == DEMO_EMAILS["ministry"] and role == Membership.Role.MINISTRY:
            ctx.ministry_user = user_id
        elif email == DEMO_EMAILS["regional"] and role == Membership.Role.REGIONAL:
            ctx.regional_user, ctx.regional_region = user_id, region_id
        elif role == Membership.Role.ESTABLISHMENT and entity_id is not None:
            ctx.establishment_users.setdefault(entity_id, user_id)
            if email == DEMO_EMAILS["establishment"] and ctx.demo_entity is None:
                ctx.demo_entity = entity_id
            elif email == DEMO_EMAILS["ght"] and ctx.ght_support is None:
                ctx.ght_support = entity_id
    return ctx


def _candidates(ids: Sequence[int] | None) -> list[Candidate]:
    """The candidates among these entities (all when None), by FINESS: the active ones
    but the public members of a GHT (covered by their GHT's application)."""
    fields = (
        "id",
        "finess",
        "name",
        "status_group",
        "ght_id",
        "is_ght_support",
        "active",
        "staff_count",
        "department__region_id",
    )
    rows: list[tuple[Any, ...]] = []
    if ids is None:
        rows = list(LegalEntity.objects.values_list(*fields))
    else:
        for chunk in chunks(ids):
            rows += LegalEntity.objects.filter(id__in=chunk).values_list(*fields)
    filers = []
    for row in rows:
        _, _, _, status, ght_id, support, active, _, _ = row
        if active and not (status == StatusGroup.PUBLIC and ght_id and not support):
            filers.append(row)
    ght_ids = sorted({row[4] for row in filers if row[5] and row[4]})
    covered: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for chunk in chunks(ght_ids):
        for ght_id, entity_id, staff in LegalEntity.objects.filter(
            ght_id__in=chunk, active=True
        ).values_list("ght_id", "id", "staff_count"):
            covered[ght_id].append((entity_id, staff or 0))
    statuses: dict[int, tuple[Any, ...]] = {}
    considered = sorted({row[0] for row in filers} | {m[0] for ms in covered.values() for m in ms})
    for chunk in chunks(considered):
        for row in Volet1Status.objects.filter(legal_entity_id__in=chunk).values_list(
            "legal_entity_id",
            "level",
            "ad_audit_date",
            "exposure_second_scan_date",
            "last_scan_date",
        ):
            statuses[row[0]] = row[1:]
    result = []
    for pk, finess, name, _, ght_id, support, _, staff, region_id in filers:
        if support and ght_id:
            members_of = sorted(covered[ght_id], key=lambda m: (m[0] != pk, m[0]))
            covers = tuple(m[0] for m in members_of)
            total = sum(m[1] for m in members_of)
        else:
            covers, total = (pk,), staff or 0
        level, ad_date, second, last = statuses.get(pk, (Volet1Level.NONE, None, None, None))
        result.append(
            Candidate(
                id=pk,
                finess=finess,
                name=name,
                region_id=region_id,
                is_ght_support=bool(support and ght_id),
                ght_id=ght_id if support else None,
                covered=covers,
                staff=total,
                level=level,
                volet1_met=all(
                    statuses.get(member, (Volet1Level.NONE,))[0] == Volet1Level.BOTH
                    for member in covers
                ),
                ad_audit_date=ad_date,
                second_scan_date=second,
                last_scan_date=last,
            )
        )
    return sorted(result, key=lambda c: c.finess)


# --------------------------------------------------------------------------- plan


@dataclass
class Step:
    source: str
    target: str
    actor: int | None
    comment: str
    at: datetime


@dataclass
class Planned:
    call: FundingCall
    candidate: Candidate
    status: str
    created_at: datetime
    steps: list[Step] = field(default_factory=list)
    contacts: dict[str, str] = field(default_factory=dict)
    answers: dict[str, tuple[str, str]] = field(default_factory=dict)
    lines: list[tuple[str, str, Decimal]] = field(default_factory=list)
    granted: Decimal | None = None
    paid: Decimal | None = None
    evidence: list[tuple[str, datetime]] = field(default_factory=list)  # identifier, when
    messages: list[tuple[int | None, str, bool, datetime]] = field(default_factory=list)
    created_by: int | None = None

    @property
    def reference(self) -> str:
        return f"{self.call.code}-S{self.candidate.finess}"

    @property
    def requested(self) -> Decimal:
        return sum((amount for _, _, amount in self.lines), Decimal("0"))

    @property
    def submitted_at(self) -> datetime | None:
        times = [s.at for s in self.steps if s.target == Status.SUBMITTED]
        return times[-1] if times else None

    @property
    def updated_at(self) -> datetime:
        return self.steps[-1].at if self.steps else self.created_at


def _rng(seed: int, code: str, finess: str) -> random.Random:
    return random.Random(f"{seed}-{code}-{finess}")  # noqa: S311 - demo data, not security


def _quotas(total: int, weights: dict[str, float]) -> Counter[str]:
    """`total` split over the keys by weight (largest remainder), each key at least once
    when the total allows it."""
    keys = list(weights)
    minimum = 1 if total >= len(keys) else 0
    weight_sum = sum(weights.values())
    raw = {k: total * weights[k] / weight_sum for k in keys}
    result = Counter({k: max(minimum, int(raw[k])) for k in keys})
    while sum(result.values()) < total:
        key = max(keys, key=lambda k: (raw[k] - result[k], weights[k]))
        result[key] += 1
    while sum(result.values()) > total:
        key = max((k for k in keys if result[k] > minimum), key=lambda k: result[k] - raw[k])
        result[key] -= 1
    return result


def _take(bag: Counter[str], status: str) -> None:
    """Use one slot of `status`, else one of the most frequent status (the total stays)."""
    if bag[status] <= 0:
        status = max(bag, key=lambda k: (bag[k], k))
    bag[status] -= 1


def _spread(
    rng: random.Random, participants: list[Candidate], forced: dict[int, str]
) -> dict[int, str]:
    """Status of each D2 participant: the quotas of D2_STATUS_WEIGHTS, a candidate
    one of whose covered entities lacks a Volet 1 objective only in NO_VOLET1_STATUSES
    (E5)."""
    bag = _quotas(len(participants), D2_STATUS_WEIGHTS)
    result: dict[int, str] = {}
    for candidate in participants:
        if candidate.id in forced:
            result[candidate.id] = forced[candidate.id]
            _take(bag, forced[candidate.id])
    restricted = [c for c in participants if c.id not in forced and not c.volet1_met]
    free = [c for c in participants if c.id not in forced and c.volet1_met]
    rng.shuffle(restricted)
    rng.shuffle(free)
    for candidate in restricted:
        status = next((s for s in NO_VOLET1_STATUSES if bag[s] > 0), INEL)
        result[candidate.id] = status
        _take(bag, status)
    rest = sorted(bag.elements())
    rng.shuffle(rest)
    for candidate, status in zip(free, rest, strict=True):
        result[candidate.id] = status
    return result


def _ceiling(brackets: Sequence[tuple[int, int | None, Decimal]], staff: int) -> Decimal:
    for low, high, ceiling in brackets:
        if staff >= low and (high is None or staff <= high):
            return ceiling
    return brackets[-1][2] if brackets else Decimal("100000")


# Relative weight of a budget category in a total (continuity money goes to backups,
# consulting and software rather than to paper kits).
CATEGORY_WEIGHTS = {
    BudgetLine.Category.CONSULTING.value: 3.0,
    BudgetLine.Category.HARDWARE.value: 3.0,
    BudgetLine.Category.SOFTWARE.value: 2.5,
    BudgetLine.Category.STAFF.value: 2.0,
    BudgetLine.Category.TRAINING.value: 1.2,
    BudgetLine.Category.OTHER.value: 0.4,
}


def _budget(
    rng: random.Random, domain: str, ceiling: Decimal, count: int, *, share: float
) -> list[tuple[str, str, Decimal]]:
    """`count` lines of distinct categories, totalling about `share` of the ceiling,
    each a round hundred of euros."""
    pool = BUDGET_POOLS[domain]
    categories = rng.sample(sorted(pool), min(count, len(pool)))
    weights = [CATEGORY_WEIGHTS.get(c, 1.0) * rng.uniform(0.6, 1.4) for c in categories]
    total = float(ceiling) * share
    lines = []
    for category, weight in zip(categories, weights, strict=True):
        amount = max(500, int(total * weight / sum(weights)) // 100 * 100)
        lines.append((category, rng.choice(pool[category]), Decimal(amount)))
    return lines


def _stamp(rng: random.Random, days: Sequence[date], system: Sequence[bool]) -> list[datetime]:
    """Strictly increasing moments in office hours on these days; a system step comes
    a few minutes after the previous one."""
    moments: list[datetime] = []
    for day, automatic in zip(days, system, strict=True):
        if automatic and moments:
            at = moments[-1] + timedelta(minutes=rng.randint(2, 45))
        else:
            at = datetime.combine(day, time(8, 0), PARIS) + timedelta(
                minutes=rng.randint(0, 11 * 60)
            )
            if moments and at <= moments[-1]:
                at = moments[-1] + timedelta(minutes=rng.randint(5, 50))
        moments.append(at)
    return moments


def _between(rng: random.Random, low: datetime, high: datetime) -> datetime:
    """A moment strictly between `low` and `high`, in office hours when there is room."""
    for _ in range(6):
        day = timezone.localtime(low + (high - low) * rng.random(), PARIS).date()
        at = datetime.combine(day, time(8, 0), PARIS) + timedelta(minutes=rng.randint(0, 660))
        if low < at < high:
            return at
    return low + (high - low) * rng.uniform(0.2, 0.8)


def _contacts(rng: random.Random, name: str, *, complete: bool) -> dict[str, str]:
    domain = _mail_domain(name)
    result = {}
    for role in ("director", "rssi", "continuity_lead"):
        person, email = _person(rng, domain)
        result[f"{role}_name"], result[f"{role}_email"] = person, email
    if not complete:  # a draft: the first fields only
        keep = rng.randint(0, 6)
        for index, key in enumerate(list(result)):
            if index >= keep:
                result[key] = ""
    return result


def _comment(rng: random.Random, identifier: str, share: float = 0.4) -> str:
    pool = ANSWER_COMMENTS.get(identifier)
    return rng.choice(pool) if pool and rng.random() < share else ""


def _validate(path: Sequence[str]) -> None:
    for source, target in pairwise(path):
        if rule_for(source, target) is None:
            raise AssertionError(f"demo path breaks the lifecycle: {source} -> {target}")


def _steps(
    ctx: Context,
    plan: Planned,
    path: Sequence[str],
    moments: Sequence[datetime],
    comments: dict[str, str],
) -> None:
    """Transitions along `path` (path[0] is draft, at moments[0] the creation), with the
    actors of the table, the comments by action, and the return requests."""
    _validate(path)
    plan.created_at = moments[0]
    for source, target, at in zip(path, path[1:], moments[1:], strict=False):
        rule = rule_for(source, target)
        assert rule is not None
        actor = ctx.actor(rule.actors, plan.candidate)
        comment = comments.get(rule.action, "")
        plan.steps.append(Step(source, target, actor, comment, at))
        if target == Status.RETURNED:
            plan.messages.append((actor, comment, True, at))


# --------------------------------------------------------------------------- D2


D, SUB, INEL, RR, RET, NR, APP, REJ, WD = (
    S.DRAFT.value,
    S.SUBMITTED.value,
    S.INELIGIBLE.value,
    S.REGIONAL_REVIEW.value,
    S.RETURNED.value,
    S.NATIONAL_REVIEW.value,
    S.APPROVED.value,
    S.REJECTED.value,
    S.WITHDRAWN.value,
)
DECL, CHK, VAL, PAID = (
    S.OBJECTIVES_DECLARED.value,
    S.OBJECTIVES_CHECKED.value,
    S.OBJECTIVES_VALIDATED.value,
    S.PAID.value,
)
DECLARED_OR_LATER = {DECL, CHK, VAL, PAID}


def _d2_path(rng: random.Random, status: str, candidate: Candidate, ctx: Context) -> list[str]:
    """A path of the lifecycle from draft to `status`, with the occasional detour
    (returned and resubmitted, found ineligible then reconsidered, evidence refused)."""
    regional = ctx.regional_here(candidate)

    def returned() -> list[str]:  # a return, by the ARS of the region or the ministry
        return [RET] if regional and rng.random() < 0.7 else [NR, RET]

    def review(loop: bool) -> list[str]:
        start = [D, SUB, RR]
        if loop:
            start += [*returned(), SUB, RR]
        return start

    if status == D:
        return [D]
    if status == SUB:  # resubmitted after a return, for some (eligible) ones
        eligible = candidate.volet1_met
        return [D, SUB, RR, *returned(), SUB] if eligible and rng.random() < 0.12 else [D, SUB]
    if status == INEL:
        return [D, SUB, INEL]
    if status == WD:
        if not candidate.volet1_met:
            return rng.choice([[D, WD], [D, SUB, WD]])
        return rng.choices([[D, WD], [D, SUB, WD], [D, SUB, RR, WD]], [40, 35, 25])[0]
    if status == RR:
        draw = rng.random()
        # Volet 1 not met (only ght@demo.test's GHT, forced here): ineligible by the
        # rules, the ministry reconsidered.
        if draw < 0.1 or not candidate.volet1_met:
            return [D, SUB, INEL, RR]
        return review(draw > 0.9)
    if status == RET:
        return [D, SUB, RR, *returned()]
    national = [*review(rng.random() < 0.1), NR]
    if status == NR:
        return national
    if status == REJ:
        return [*national, REJ]
    approved = [*national, APP]
    if status == APP:
        return [*approved, DECL, APP] if rng.random() < 0.08 else approved
    declared = [*approved, DECL]
    if status in (CHK, VAL, PAID) and rng.random() < 0.1:
        declared += [APP, DECL]
    tail = {DECL: [], CHK: [CHK], VAL: [CHK, VAL], PAID: [CHK, VAL, PAID]}[status]
    return declared + tail


def _plan_d2(
    ctx: Context,
    call: FundingCall,
    identifiers: Sequence[tuple[str, str]],
    brackets: Sequence[tuple[int, int | None, Decimal]],
    candidates: Sequence[Candidate],
    today: date,
    stages: dict[str, str],
) -> list[Planned]:
    """The D2 applications; `stages` is the evidence stage of each requirement (what
    E6 reads)."""
    opened = timezone.localtime(call.opens_at, PARIS).date()
    span = max(1, (today - opened).days)  # days the call has been open, today excluded
    limit = datetime.combine(today, time(0, 0), PARIS)  # nothing happens today or later
    participants = []
    rngs: dict[int, random.Random] = {}
    for candidate in candidates:
        rng = rngs[candidate.id] = _rng(ctx.seed, call.code, candidate.finess)
        share = (
            D2_GHT_PARTICIPATION
            if candidate.is_ght_support
            else D2_PARTICIPATION.get(candidate.level, 0.25)
        )
        if rng.random() < share or candidate.id in (ctx.demo_entity, ctx.ght_support):
            participants.append(candidate)
    forced = {}
    if ctx.demo_entity is not None:
        forced[ctx.demo_entity] = D
    if ctx.ght_support is not None:
        forced[ctx.ght_support] = RR
    statuses = _spread(
        random.Random(f"{ctx.seed}-{call.code}-statuses"),  # noqa: S311
        participants,
        forced,
    )

    plans = []
    for candidate in participants:
        rng = rngs[candidate.id]
        status = statuses[candidate.id]
        plan = Planned(call, candidate, status, created_at=call.opens_at)
        plan.created_by = ctx.establishment_users.get(candidate.id)
        ceiling = _ceiling(brackets, candidate.staff)
        if candidate.id == ctx.demo_entity:
            _demo_draft(rng, plan, identifiers, opened, span)
            plans.append(plan)
            continue
        path = _d2_path(rng, status, candidate, ctx)
        over = status == INEL and candidate.volet1_met
        over = over or (status in (D, SUB) and rng.random() < 0.1)
        draft = status == D or path == [D, WD]
        count = rng.randint(1, 3) if draft else rng.randint(2, 5)
        share = rng.uniform(1.05, 1.35) if over else rng.uniform(0.35, 0.97)
        plan.lines = _budget(rng, "D2", ceiling, count, share=share)
        if over and plan.requested <= ceiling:
            category, text, amount = plan.lines[0]
            plan.lines[0] = (category, text, amount + ceiling - plan.requested + 1000)
        plan.contacts = _contacts(rng, candidate.name, complete=not draft)
        if NR in path and APP in path:
            factor = rng.choice(
                [Decimal(1), Decimal(1), Decimal(1), Decimal("0.9"), Decimal("0.85")]
            )
            granted = min(plan.requested, ceiling) * factor
            plan.granted = Decimal(int(granted) // 100 * 100)
        if status == PAID and plan.granted is not None:
            factor = Decimal(1) if rng.random() < 0.7 else Decimal(str(rng.uniform(0.9, 0.99)))
            plan.paid = Decimal(int(plan.granted * factor))
        comments = {action: rng.choice(texts) for action, texts in COMMENTS.items() if texts}
        comments["score_ineligible"] = (
            (INELIGIBLE_E5 if candidate.level != Volet1Level.BOTH else INELIGIBLE_E5_GHT)
            if not candidate.volet1_met or not over
            else f"Critère E7 non rempli : le montant demandé ({_eur(plan.requested)}) dépasse "
            f"le plafond de {_eur(ceiling)} applicable à un effectif de {_n(candidate.staff)} "
            "personnes."
        )
        if not candidate.volet1_met:
            comments["reconsider"] = RECONSIDER_VOLET1_PENDING
        comments["approve"] = f"Montant accordé : {_eur(plan.granted or Decimal(0))}."
        comments["record_payment"] = f"Versement de {_eur(plan.paid or Decimal(0))}."
        days = sorted(rng.randint(0, span - 1) for _ in path)
        if status == SUB:
            days[-1] = max(days[-1], rng.randint(max(0, span - 8), span - 1))
        moments = _stamp(
            rng,
            [opened + timedelta(days=d) for d in days],
            [False] + [_is_system(a, b) for a, b in pairwise(path)],
        )
        _steps(ctx, plan, path, moments, comments)
        _d2_answers(rng, plan, identifiers, stages, draft=draft)
        _d2_messages(rng, ctx, plan, path, moments, limit)
        plans.append(plan)
    return plans


def _is_system(source: str, target: str) -> bool:
    rule = rule_for(source, target)
    return rule is not None and rule.actors == frozenset({Actor.SYSTEM.value})


def _demo_draft(
    rng: random.Random,
    plan: Planned,
    identifiers: Sequence[tuple[str, str]],
    opened: date,
    span: int,
) -> None:
    """etablissement@demo.test's draft, to be continued: contacts of the direction and
    the RSSI, the first answers, one budget line, no file yet."""
    plan.created_at = _stamp(rng, [opened + timedelta(days=max(0, span - 3))], [False])[0]
    contacts = _contacts(rng, plan.candidate.name, complete=True)
    contacts["continuity_lead_name"] = contacts["continuity_lead_email"] = ""
    plan.contacts = contacts
    first = {
        "D2.P1": (Answer.State.MET.value, ""),
        "D2.P2": (Answer.State.MET.value, ANSWER_COMMENTS["D2.P2"][0]),
        "D2.P3": (Answer.State.IN_PROGRESS.value, "Note de désignation du RPCA à la signature."),
    }
    plan.answers = {ident: first.get(ident, ("", "")) for ident, _ in identifiers}
    plan.lines = [
        (
            BudgetLine.Category.CONSULTING.value,
            BUDGET_POOLS["D2"][BudgetLine.Category.CONSULTING][0],
            Decimal("48000"),
        )
    ]


def _d2_answers(
    rng: random.Random,
    plan: Planned,
    identifiers: Sequence[tuple[str, str]],
    stages: dict[str, str],
    *,
    draft: bool,
) -> None:
    """The answers, every prerequisite met once submitted, and the files of the met
    requirements: those asked at the application (as E6 reads the requirement) before
    the first submission, those asked at the declaration before the first declaration."""
    met, doing = Answer.State.MET.value, Answer.State.IN_PROGRESS.value
    declared = plan.status in DECLARED_OR_LATER
    for identifier, kind in identifiers:
        if draft:
            if kind == PRE:
                state = rng.choices([met, doing, ""], [60, 20, 20])[0]
            else:
                state = rng.choice([doing, ""])
        elif kind == PRE:
            state = met  # a submission needs every prerequisite met
        else:
            state = met if declared or rng.random() < 0.15 else doing
        plan.answers[identifier] = (state, _comment(rng, identifier) if state else "")
    if draft:
        return
    first_submit = next(s.at for s in plan.steps if s.target == SUB)
    first_declare = next((s.at for s in plan.steps if s.target == DECL), None)
    for identifier, kind in identifiers:
        spec = SPECS.get(identifier)
        stage = stages.get(identifier) or (
            spec.evidence_stage if spec else (AT_APPLICATION if kind == PRE else AT_DECLARATION)
        )
        if plan.answers[identifier][0] != met:
            continue
        if stage == AT_APPLICATION:
            at = _between(rng, plan.created_at, first_submit)
            plan.evidence.append((identifier, at))
        elif stage == AT_DECLARATION and first_declare is not None:
            before = max(s.at for s in plan.steps if s.at < first_declare)
            plan.evidence.append((identifier, _between(rng, before, first_declare)))


def _d2_messages(
    rng: random.Random,
    ctx: Context,
    plan: Planned,
    path: Sequence[str],
    moments: Sequence[datetime],
    limit: datetime,
) -> None:
    """A few messages with an author who fits: the ARS account in its region, the
    ministry account in national review, the demo establishment after a return."""

    def between(index: int) -> datetime:  # while the application is in path[index]
        after = moments[index]
        if index + 1 < len(moments):
            return _between(rng, after, moments[index + 1])
        return _between(rng, after, min(limit, after + timedelta(days=2)))

    candidate = plan.candidate
    if (
        RR in path
        and ctx.regional_here(candidate)
        and (rng.random() < 0.35 or candidate.id == ctx.ght_support)
    ):
        plan.messages.append(
            (ctx.regional_user, rng.choice(MESSAGES["regional"]), False, between(path.index(RR)))
        )
    if NR in path and ctx.ministry_user is not None and rng.random() < 0.15:
        plan.messages.append(
            (ctx.ministry_user, rng.choice(MESSAGES["ministry"]), False, between(path.index(NR)))
        )
    author = ctx.establishment_users.get(candidate.id)
    if author is not None:
        for index, (source, target) in enumerate(pairwise(path)):
            if source == RET and target == SUB:
                at = moments[index + 1] - timedelta(minutes=3)
                plan.messages.append((author, MESSAGES["reply"][0], False, at))


# --------------------------------------------------------------------------- D1


D1_SHARES = {"D1.O1": Decimal("0.5"), "D1.O2.A": Decimal("0.2"), "D1.O2.B": Decimal("0.3")}


def _plan_d1(
    ctx: Context,
    call: FundingCall,
    identifiers: Sequence[tuple[str, str]],
    brackets: Sequence[tuple[int, int | None, Decimal]],
    candidates: Sequence[Candidate],
) -> list[Planned]:
    """The D1 history: participants of Volet 1 filed in the 2024 window; most were paid
    once their objectives were met (dates after their audits and scans)."""
    opened = timezone.localtime(call.opens_at, PARIS).date()
    closed = timezone.localtime(call.closes_at, PARIS).date()
    plans = []
    for candidate in candidates:
        rng = _rng(ctx.seed, call.code, candidate.finess)
        featured = candidate.id in (ctx.demo_entity, ctx.ght_support)
        if candidate.has_volet1 or featured:
            if rng.random() >= 0.97 and not featured:
                continue
            outcome = rng.choices(["track", REJ, WD], [97, 1.5, 1.5])[0]
        else:
            if rng.random() >= 0.12:
                continue
            outcome = rng.choices([D, WD, REJ], [30, 40, 30])[0]
        if featured:
            outcome = "track"
        plans.append(
            _d1_application(
                rng, ctx, call, identifiers, brackets, candidate, outcome, opened, closed
            )
        )
    return plans


def _d1_application(
    rng: random.Random,
    ctx: Context,
    call: FundingCall,
    identifiers: Sequence[tuple[str, str]],
    brackets: Sequence[tuple[int, int | None, Decimal]],
    candidate: Candidate,
    outcome: str,
    opened: date,
    closed: date,
) -> Planned:
    met = {
        "D1.O1": candidate.ad_audit_date is not None,
        "D1.O2.A": candidate.last_scan_date is not None,
        "D1.O2.B": candidate.second_scan_date is not None,
    }
    created = min(opened + timedelta(days=rng.randint(0, 26)), closed)
    submitted = min(created + timedelta(days=rng.randint(0, 5)), closed)
    regional = closed + timedelta(days=rng.randint(10, 60))
    national = regional + timedelta(days=rng.randint(10, 45))
    path, days = [D], [created]
    if outcome == D:
        pass
    elif outcome == WD:
        if rng.random() < 0.5:
            path, days = [D, WD], [created, submitted]
        else:
            path, days = (
                [D, SUB, WD],
                [created, submitted, submitted + timedelta(days=rng.randint(3, 40))],
            )
    else:
        path = [D, SUB, RR, NR]
        days = [created, submitted, submitted, regional]
        if outcome == REJ:
            path.append(REJ)
            days.append(national)
        else:
            path.append(APP)
            days.append(national)
            reached = [
                d
                for d, ok in (
                    (candidate.ad_audit_date, met["D1.O1"]),
                    (candidate.second_scan_date, met["D1.O2.B"]),
                )
                if ok and d is not None
            ]
            if not reached and candidate.last_scan_date is not None:
                reached = [candidate.last_scan_date]
            declares = (
                bool(reached)
                and (all(met.values()) or rng.random() < 0.8)
                and candidate.id != ctx.demo_entity
            )
            if declares:
                day = max(
                    national + timedelta(days=7), max(reached) + timedelta(days=rng.randint(2, 20))
                )
                for target, gap in (
                    (DECL, 0),
                    (CHK, rng.randint(5, 25)),
                    (VAL, rng.randint(5, 25)),
                    (PAID, rng.randint(7, 30)),
                ):
                    day += timedelta(days=gap)
                    if day > D1_END:
                        break
                    path.append(target)
                    days.append(day)
    status = path[-1]
    plan = Planned(call, candidate, status, created_at=call.opens_at)
    plan.created_by = ctx.establishment_users.get(candidate.id)
    ceiling = _ceiling(brackets, candidate.staff)
    draft = path in ([D], [D, WD])
    plan.lines = _budget(rng, "D1", ceiling, rng.randint(2, 4), share=rng.uniform(0.45, 1.0))
    plan.contacts = _contacts(rng, candidate.name, complete=not draft)
    if APP in path:
        plan.granted = Decimal(int(min(plan.requested, ceiling)) // 100 * 100)
    if status == PAID and plan.granted is not None:
        share = sum((D1_SHARES[k] for k, ok in met.items() if ok), Decimal(0))
        plan.paid = Decimal(int(plan.granted * share * Decimal(str(rng.uniform(0.9, 1.0)))))
    comments = {
        "reject": rng.choice(COMMENTS["reject_D1"]),
        "withdraw": rng.choice(COMMENTS["withdraw"]),
        "approve": f"Montant accordé : {_eur(plan.granted or Decimal(0))}.",
        "record_payment": f"Versement de {_eur(plan.paid or Decimal(0))}.",
    }
    system = [False] + [_is_system(a, b) for a, b in pairwise(path)]
    moments = _stamp(rng, days, system)
    _steps(ctx, plan, path, moments, comments)
    declared = status in DECLARED_OR_LATER
    doing = Answer.State.IN_PROGRESS.value
    for identifier, _kind in identifiers:
        if draft:
            state = rng.choice([doing, ""])
        elif declared and met.get(identifier, False):
            state = Answer.State.MET.value
        else:
            state = doing
        plan.answers[identifier] = (state, _comment(rng, identifier, 0.25) if state else "")
    first_declare = next((s.at for s in plan.steps if s.target == DECL), None)
    if first_declare is not None:
        before = max(s.at for s in plan.steps if s.at < first_declare)
        for identifier, _kind in identifiers:
            if plan.answers[identifier][0] == Answer.State.MET:
                plan.evidence.append((identifier, _between(rng, before, first_declare)))
    if (
        status == PAID
        and ctx.ministry_user is not None
        and (rng.random() < 0.1 or candidate.id == ctx.ght_support)
    ):
        plan.messages.append(
            (
                ctx.ministry_user,
                MESSAGES["payment_D1"][0],
                False,
                moments[-1] + timedelta(minutes=20),
            )
        )
    return plan


# --------------------------------------------------------------------------- write


@contextmanager
def _explicit_timestamps(*model_classes: type[models.Model]) -> Iterator[None]:
    """Let bulk_create write the `created_at`/`updated_at` given (the dates of the
    demo history) instead of now: auto_now and auto_now_add are switched off for the
    duration, on these models only, and always restored."""
    saved = []
    for model in model_classes:
        for name in ("created_at", "updated_at"):
            field_ = model._meta.get_field(name)
            saved.append((field_, field_.auto_now, field_.auto_now_add))  # type: ignore[union-attr]
            field_.auto_now = field_.auto_now_add = False  # type: ignore[union-attr]
    try:
        yield
    finally:
        for field_, auto_now, auto_now_add in saved:
            field_.auto_now, field_.auto_now_add = auto_now, auto_now_add  # type: ignore[union-attr]


def _pending(call: FundingCall, plans: list[Planned]) -> list[Planned]:
    """The plans whose candidate has no application to the call yet and whose entities
    are not covered yet (a second run finds none)."""
    candidate_ids = [p.candidate.id for p in plans]
    covered_ids = sorted({pk for p in plans for pk in p.candidate.covered})
    filed: set[int] = set()
    covered: set[int] = set()
    for chunk in chunks(candidate_ids):
        filed.update(
            Application.objects.filter(call=call, candidate_id__in=chunk).values_list(
                "candidate_id", flat=True
            )
        )
    for chunk in chunks(covered_ids):
        covered.update(
            Coverage.objects.filter(call=call, legal_entity_id__in=chunk).values_list(
                "legal_entity_id", flat=True
            )
        )
    references: set[str] = set()
    refs = [p.reference for p in plans]
    for refs_chunk in chunks(refs):
        references.update(
            Application.objects.filter(reference__in=refs_chunk).values_list("reference", flat=True)
        )
    return [
        p
        for p in plans
        if p.candidate.id not in filed
        and not covered.intersection(p.candidate.covered)
        and p.reference not in references
    ]


def _ids(
    objects: Sequence[models.Model], model: type[models.Model], key: str, values: Sequence[Any]
) -> None:
    """Fill the primary keys bulk_create did not return (databases without RETURNING)."""
    if all(obj.pk is not None for obj in objects):
        return
    found: dict[Any, int] = {}
    for chunk in chunks(values):
        found.update(model._default_manager.filter(**{f"{key}__in": chunk}).values_list(key, "pk"))
    for obj in objects:
        obj.pk = found[getattr(obj, key)]


def _write(
    plans: list[Planned],
    requirements: dict[int, list[Requirement]],
    ctx: Context,
    files: _Files,
) -> tuple[Counter[str], list[Application]]:
    """Write the plans (already filtered by `_pending`) in bulk; returns row counts and
    the applications (with their primary keys), in the order of the plans."""
    counts: Counter[str] = Counter()
    if not plans:
        return counts, []
    applications = [
        Application(
            call=p.call,
            candidate_id=p.candidate.id,
            ght_id=p.candidate.ght_id,
            reference=p.reference,
            status=p.status,
            sworn_statement=p.submitted_at is not None,
            sworn_by_id=p.created_by if p.submitted_at is not None else None,
            sworn_at=p.submitted_at,
            submitted_at=p.submitted_at,
            requested_amount=p.requested,
            granted_amount=p.granted,
            paid_amount=p.paid,
            created_by_id=p.created_by,
            created_at=p.created_at,
            updated_at=p.updated_at,
            **p.contacts,
        )
        for p in plans
    ]
    with _explicit_timestamps(Application, Coverage, Answer, BudgetLine, Evidence, Message):
        Application.objects.bulk_create(applications, batch_size=BATCH_SIZE)
        _ids(applications, Application, "reference", [a.reference for a in applications])
        counts["applications"] = len(applications)

        coverages, answers, lines, transitions, messages = [], [], [], [], []
        for plan, application in zip(plans, applications, strict=True):
            coverages += [
                Coverage(
                    call=plan.call,
                    application=application,
                    legal_entity_id=pk,
                    created_at=plan.created_at,
                    updated_at=plan.created_at,
                )
                for pk in plan.candidate.covered
            ]
            answers += [
                Answer(
                    application=application,
                    requirement=requirement,
                    state=plan.answers.get(requirement.identifier, ("", ""))[0],
                    comment=plan.answers.get(requirement.identifier, ("", ""))[1],
                    created_at=plan.created_at,
                    updated_at=plan.submitted_at or plan.created_at,
                )
                for requirement in requirements[plan.call.pk]
            ]
            lines += [
                BudgetLine(
                    application=application,
                    category=category,
                    description=description,
                    amount=amount,
                    created_at=plan.created_at,
                    updated_at=plan.created_at,
                )
                for category, description, amount in plan.lines
            ]
            transitions += [
                Transition(
                    application=application,
                    from_status=step.source,
                    to_status=step.target,
                    actor_id=step.actor,
                    comment=step.comment,
                    created_at=step.at,
                )
                for step in plan.steps
            ]
            messages += [
                Message(
                    application=application,
                    author_id=author,
                    body=body,
                    is_return_request=is_return,
                    created_at=at,
                    updated_at=at,
                )
                for author, body, is_return, at in sorted(plan.messages, key=lambda m: m[3])
            ]
        Coverage.objects.bulk_create(coverages, batch_size=BATCH_SIZE)
        Answer.objects.bulk_create(answers, batch_size=BATCH_SIZE)
        BudgetLine.objects.bulk_create(lines, batch_size=BATCH_SIZE)
        Transition.objects.bulk_create(transitions, batch_size=BATCH_SIZE)
        Message.objects.bulk_create(messages, batch_size=BATCH_SIZE)
        counts.update(
            coverages=len(coverages),
            answers=len(answers),
            budget_lines=len(lines),
            transitions=len(transitions),
            messages=len(messages),
        )

        if any(a.pk is None for a in answers):
            by_key = {
                (app_id, req_id): pk
                for chunk in chunks([a.pk for a in applications])
                for pk, app_id, req_id in Answer.objects.filter(
                    application_id__in=chunk
                ).values_list("pk", "application_id", "requirement_id")
            }
            for answer in answers:
                answer.pk = by_key[(answer.application_id, answer.requirement_id)]
        answer_of = {(a.application_id, a.requirement.identifier): a.pk for a in answers}
        evidence = []
        for plan, application in zip(plans, applications, strict=True):
            own = plan.status in CAN_BECOME_EDITABLE
            for identifier, at in plan.evidence:
                answer_id = answer_of.get((application.pk, identifier))
                if answer_id is None:
                    continue  # the call has no such requirement (edited by an administrator)
                spec = SPECS.get(identifier)
                if own:
                    stored = files.store(
                        [
                            spec.title if spec and spec.title else identifier,
                            plan.candidate.name,
                            f"Candidature {plan.reference} – exigence {identifier}",
                            f"Version du {timezone.localtime(at, PARIS):%d/%m/%Y}",
                            "Document fictif généré pour la démonstration du portail CaRE :",
                            "il ne contient aucune donnée réelle.",
                        ]
                    )
                else:
                    stored = files.shared(identifier)
                evidence.append(
                    Evidence(
                        application=application,
                        answer_id=answer_id,
                        file=stored.name,
                        original_name=spec.document
                        if spec and spec.document
                        else f"{identifier}.pdf",
                        content_type="application/pdf",
                        size=stored.size,
                        sha256=stored.sha256,
                        uploaded_by_id=plan.created_by,
                        created_at=at,
                        updated_at=at,
                    )
                )
        Evidence.objects.bulk_create(evidence, batch_size=BATCH_SIZE)
        counts["evidence"] = len(evidence)
    return counts, applications


def _scorings(plan: Planned) -> tuple[datetime | None, datetime | None]:
    """When the application was first scored (submitted → regional review or
    ineligible, the system's step) and when the ministry reconsidered it, if it did."""
    scored = next((s.at for s in plan.steps if s.source == SUB and s.target in (RR, INEL)), None)
    reconsidered = next((s.at for s in plan.steps if s.source == INEL and s.target == RR), None)
    return scored, reconsidered


def _store_eligibility(
    plans: Sequence[Planned], applications: Sequence[Application]
) -> Counter[str]:
    """The `EligibilityResult` of each application just written that went through
    scoring and is no longer `submitted`, by the rules themselves (`evaluate`, on the
    rows just written) as the scoring task would have stored it: at the first scoring,
    or at the reconsideration by the ministry when the rules now find it eligible."""
    counts: Counter[str] = Counter()
    results = []
    with translation.override(settings.LANGUAGE_CODE):  # the workers' language
        for plan, application in zip(plans, applications, strict=True):
            scored, reconsidered = _scorings(plan)
            if scored is None or plan.status in (D, SUB):
                continue
            outcome = evaluate(application)
            at = reconsidered if outcome.eligible and reconsidered is not None else scored
            results.append(
                EligibilityResult(
                    application_id=application.pk,
                    rules_version=outcome.rules_version,
                    eligible=outcome.eligible,
                    score=outcome.score,
                    rules=outcome.rules_json(),
                    factors=outcome.factors_json(),
                    computed_at=at,
                    created_at=at,
                    updated_at=at,
                )
            )
    before = EligibilityResult.objects.count()
    with _explicit_timestamps(EligibilityResult):
        EligibilityResult.objects.bulk_create(results, batch_size=BATCH_SIZE, ignore_conflicts=True)
    counts["eligibility_results"] = EligibilityResult.objects.count() - before
    counts["eligible_results"] = sum(1 for r in results if r.eligible)
    return counts


# --------------------------------------------------------------------------- entry point


@dataclass
class CallDemoSummary:
    code: str
    title: str
    is_open: bool
    opens_at: datetime
    closes_at: datetime
    candidates: int  # entities that may file (a GHT counts once, by its support)
    applications: int  # applications of these candidates to the call
    created: int
    by_status: dict[str, int]


@dataclass
class ApplicationsDemoSummary:
    seed: int
    created_calls: int
    calls: list[CallDemoSummary]
    created: Counter[str]
    stored_files: int
    featured: dict[str, str]  # demo account e-mail -> "reference (status)" per call


def seed_applications(
    *,
    seed: int,
    legal_entity_ids: Iterable[int] | None = None,
    now: datetime | None = None,
    stdout: Writer | None = None,
) -> ApplicationsDemoSummary:
    """The demo calls, then applications of these entities (all when None) to them;
    idempotent for a given seed (a re-run only moves the D2 window)."""
    now = now or timezone.now()
    ids = None if legal_entity_ids is None else sorted(set(legal_entity_ids))
    files = _Files()
    try:
        with transaction.atomic():
            d1, d2, created_calls = seed_calls(now=now)
            ctx = _context(seed)
            candidates = _candidates(ids)
            calls = (d1, d2)
            requirements = {
                call.pk: list(call.requirements.order_by("position", "identifier"))
                for call in calls
            }
            brackets = {
                call.pk: [(b.min_staff, b.max_staff, b.ceiling) for b in call.brackets.all()]
                for call in calls
            }
            identifiers = {
                call.pk: [(r.identifier, r.kind) for r in requirements[call.pk]] for call in calls
            }
            today = timezone.localtime(now, PARIS).date()
            plans = {
                d1.pk: _plan_d1(ctx, d1, identifiers[d1.pk], brackets[d1.pk], candidates),
                d2.pk: _plan_d2(
                    ctx,
                    d2,
                    identifiers[d2.pk],
                    brackets[d2.pk],
                    candidates,
                    today,
                    {r.identifier: r.evidence_stage for r in requirements[d2.pk]},
                ),
            }
            created: Counter[str] = Counter()
            created_per_call: dict[int, int] = {}
            written: dict[int, tuple[list[Planned], list[Application]]] = {}
            for call in calls:
                pending = _pending(call, plans[call.pk])
                counts, applications = _write(pending, requirements, ctx, files)
                written[call.pk] = (pending, applications)
                created_per_call[call.pk] = counts["applications"]
                created.update(counts)
            created.update(_store_eligibility(*written[d2.pk]))
            summaries = [
                _call_summary(call, candidates, created_per_call[call.pk], now) for call in calls
            ]
            featured = _featured(ctx, calls)
    except BaseException:
        files.discard()
        raise
    summary = ApplicationsDemoSummary(
        seed=seed,
        created_calls=created_calls,
        calls=summaries,
        created=created,
        stored_files=len(files.written),
        featured=featured,
    )
    if stdout is not None:
        stdout.write(
            "Candidatures (graine {}) : {}.\n".format(
                seed, ", ".join(f"{c.code} {_n(c.applications)}" for c in summaries)
            )
        )
    return summary


def _call_summary(
    call: FundingCall, candidates: Sequence[Candidate], created: int, now: datetime
) -> CallDemoSummary:
    by_status: Counter[str] = Counter()
    for chunk in chunks([c.id for c in candidates]):
        by_status.update(
            dict(
                Application.objects.filter(call=call, candidate_id__in=chunk)
                .values_list("status")
                .annotate(n=models.Count("pk"))
                .order_by()
            )
        )
    return CallDemoSummary(
        code=call.code,
        title=call.title,
        is_open=call.is_open(now),
        opens_at=call.opens_at,
        closes_at=call.closes_at,
        candidates=len(candidates),
        applications=sum(by_status.values()),
        created=created,
        by_status={status: by_status.get(status, 0) for status in Status.values},
    )


def _featured(ctx: Context, calls: Sequence[FundingCall]) -> dict[str, str]:
    entities = {DEMO_EMAILS["establishment"]: ctx.demo_entity, DEMO_EMAILS["ght"]: ctx.ght_support}
    result = {}
    for email, entity_id in entities.items():
        if entity_id is None:
            continue
        rows = Application.objects.filter(call__in=calls, candidate_id=entity_id).order_by(
            "call__opens_at"
        )
        result[email] = " ; ".join(f"{a.reference} ({Status(a.status).label})" for a in rows)
    return result


# --------------------------------------------------------------------------- report


def applications_summary_lines(summary: ApplicationsDemoSummary) -> list[str]:
    """The French report of the calls and applications of the demo data."""
    lines = []
    for call in summary.calls:
        closes = timezone.localtime(call.closes_at, PARIS)
        state = (
            f"ouvert jusqu'au {closes:%d/%m/%Y à %H:%M}"
            if call.is_open
            else f"clos le {closes:%d/%m/%Y}"
        )
        lines.append(
            f"  Appel {call.code} ({state}) : {_n(call.applications)} candidatures "
            f"({_n(call.created)} créées) pour {_n(call.candidates)} candidats possibles "
            f"({_share(call.applications, call.candidates)} %)."
        )
        parts = [
            f"{Status(status).label} {_n(count)}"
            for status, count in call.by_status.items()
            if count
        ]
        lines.append("  - " + ", ".join(parts) + ".")
    created = summary.created
    lines.append(
        f"  Créés : {_n(created['transitions'])} changements d'état, {_n(created['answers'])} "
        f"réponses, {_n(created['budget_lines'])} lignes budgétaires, "
        f"{_n(created['messages'])} messages, {_n(created['evidence'])} pièces "
        f"({_n(summary.stored_files)} fichiers écrits), "
        f"{_n(created['eligibility_results'])} résultats d'éligibilité "
        f"({_n(created['eligible_results'])} éligibles)."
    )
    for email, applications in sorted(summary.featured.items()):
        lines.append(f"  {email} : {applications}.")
    return lines
