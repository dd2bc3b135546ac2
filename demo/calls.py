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
from applications.models import BudgetLine, CeilingBracket, FundingCall, Requirement
from demo.common import STOP_WORDS

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
        "Éligibilité réexaminée par le ministère : l'établissement s'engage à lever les points "
        "bloquants avant la décision ; l'instruction régionale peut commencer.",
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
