"""Funding calls and the applications to them (Volet 2 and every later call)."""

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from care_portal.models import PublicModel, TimeStampedModel

from .lifecycle import EDITABLE_STATUSES, Status
from .querysets import ApplicationQuerySet

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def _money(
    label: "StrOrPromise",
    *,
    null: bool = False,
    default: Decimal | None = None,
    help_text: "StrOrPromise" = "",
) -> Any:
    """Money in euros: 12 digits, 2 decimals, never negative."""
    extra: dict[str, Any] = {"null": null, "blank": null, "help_text": help_text}
    if default is not None:
        extra["default"] = default
    return models.DecimalField(
        label,
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
        **extra,
    )


class FundingCall(PublicModel):
    class Domain(models.TextChoices):
        D1 = "D1", _("Domaine 1 : annuaires techniques et exposition sur internet")
        D2 = "D2", _("Domaine 2 : continuité et reprise d'activité")

    code = models.CharField(_("code"), max_length=30, unique=True)
    domain = models.CharField(_("domaine"), max_length=2, choices=Domain.choices)
    title = models.CharField(_("intitulé"), max_length=255)
    description = models.TextField(_("description"), blank=True)
    opens_at = models.DateTimeField(_("ouverture des candidatures"))
    closes_at = models.DateTimeField(_("clôture des candidatures"))
    envelope = _money(_("enveloppe (€)"))
    eligible_groups = models.JSONField(
        _("groupes éligibles"),
        default=list,
        help_text=_("Parmi : ght, public_outside_ght, private_non_profit, private_for_profit."),
    )
    parameters = models.JSONField(
        _("paramètres des règles d'éligibilité"),
        default=dict,
        blank=True,
        help_text=_("Paramètres par appel des règles d'éligibilité et des poids de priorité."),
    )

    second_approval_above = _money(
        _("co-signature au-delà de (€)"),
        null=True,
        help_text=_(
            "Une attribution supérieure à ce montant prend effet quand un second agent du "
            "ministère l'approuve (principe des quatre yeux). Vide : pas de co-signature."
        ),
    )
    objectives_deadline = models.DateField(
        _("date limite de déclaration des objectifs"), null=True, blank=True
    )
    volet1_valid_from = models.DateField(
        _("audits Volet 1 retenus à partir du"),
        null=True,
        blank=True,
        help_text=_(
            "Un audit Active Directory réalisé avant cette date est obsolète pour cet appel : "
            "il est signalé comme tel et ne satisfait pas la règle E5. Vide : tout audit compte."
        ),
    )
    advance_rate = models.DecimalField(
        _("part versée à l'accord (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text=_(
            "Paiement en tranches : cette part du montant accordé peut être versée dès "
            "l'accord, le solde une fois les objectifs validés. 0 : un seul versement."
        ),
    )

    history = HistoricalRecords(excluded_fields=["updated_at"])  # field history

    class Meta:
        ordering = ["-opens_at"]
        verbose_name = _("appel à financement")
        verbose_name_plural = _("appels à financement")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes_at__gt=models.F("opens_at")),
                name="call_closes_after_opening",
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} – {self.title}"

    def is_open(self, at: object = None) -> bool:
        moment = at or timezone.now()
        return self.opens_at <= moment < self.closes_at  # type: ignore[operator]


class Requirement(TimeStampedModel):
    """A line of the call's annex: a prerequisite or an objective."""

    class Kind(models.TextChoices):
        PREREQUISITE = "prerequisite", _("Prérequis")
        OBJECTIVE = "objective", _("Objectif")

    class EvidenceStage(models.TextChoices):
        APPLICATION = "application", _("À la candidature")
        DECLARATION = "declaration", _("À la déclaration d'atteinte des objectifs")
        NONE = "none", _("Aucune pièce obligatoire")

    call = models.ForeignKey(
        FundingCall, on_delete=models.CASCADE, related_name="requirements", verbose_name=_("appel")
    )
    identifier = models.CharField(_("identifiant"), max_length=20)
    kind = models.CharField(_("nature"), max_length=20, choices=Kind.choices)
    label = models.CharField(_("libellé"), max_length=500)
    target = models.TextField(_("cible"), blank=True)
    evidence = models.TextField(_("pièces à fournir"), blank=True)
    evidence_stage = models.CharField(
        _("pièces obligatoires"),
        max_length=20,
        choices=EvidenceStage.choices,
        default=EvidenceStage.APPLICATION,
    )
    position = models.PositiveSmallIntegerField(_("ordre"), default=0)

    class Meta:
        ordering = ["call", "position", "identifier"]
        verbose_name = _("exigence")
        verbose_name_plural = _("exigences")
        constraints = [
            models.UniqueConstraint(fields=["call", "identifier"], name="requirement_per_call")
        ]

    def __str__(self) -> str:
        return f"{self.identifier} – {self.label}"


class CeilingBracket(TimeStampedModel):
    """Funding ceiling for a staff-size bracket (SAE staff of the covered entities).
    Real ceilings are not public: each call sets its own."""

    call = models.ForeignKey(
        FundingCall, on_delete=models.CASCADE, related_name="brackets", verbose_name=_("appel")
    )
    min_staff = models.PositiveIntegerField(_("effectif minimal"))
    max_staff = models.PositiveIntegerField(
        _("effectif maximal"), null=True, blank=True, help_text=_("Vide : sans limite.")
    )
    ceiling = _money(_("plafond (€)"))

    class Meta:
        ordering = ["call", "min_staff"]
        verbose_name = _("tranche de plafond")
        verbose_name_plural = _("tranches de plafond")
        constraints = [
            models.UniqueConstraint(fields=["call", "min_staff"], name="bracket_per_call"),
            models.CheckConstraint(
                condition=models.Q(max_staff__isnull=True)
                | models.Q(max_staff__gte=models.F("min_staff")),
                name="bracket_bounds_ordered",
            ),
        ]

    def __str__(self) -> str:
        upper = self.max_staff if self.max_staff is not None else "∞"
        return f"{self.min_staff}–{upper} : {self.ceiling} €"


class Opinion(models.TextChoices):
    FAVOURABLE = "favourable", _("Favorable")
    UNFAVOURABLE = "unfavourable", _("Défavorable")
    RESERVED = "reserved", _("Réservé")


# Written by the workflow's conditional UPDATEs, each with its own ledger: not in the
# field history of Application (see Application.history).
APPLICATION_WORKFLOW_FIELDS = [
    "status",
    "submitted_at",
    "granted_amount",
    "paid_amount",
    "sworn_statement",
    "sworn_by",
    "sworn_at",
    "assigned_to",
    "assigned_at",
    "regional_opinion",
    "proposed_amount",
    "return_due_on",
    "updated_at",
]


class Application(PublicModel):
    Status = Status
    Opinion = Opinion

    call = models.ForeignKey(
        FundingCall, on_delete=models.PROTECT, related_name="applications", verbose_name=_("appel")
    )
    candidate = models.ForeignKey(
        "establishments.LegalEntity",
        on_delete=models.PROTECT,
        related_name="applications",
        verbose_name=_("candidat"),
        help_text=_("L'entité qui dépose : l'établissement support pour un GHT."),
    )
    ght = models.ForeignKey(
        "establishments.GHT",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="applications",
        verbose_name=_("GHT"),
    )
    reference = models.CharField(_("référence"), max_length=40, unique=True)
    status = models.CharField(
        _("état"), max_length=30, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    director_name = models.CharField(_("directeur ou directrice"), max_length=150, blank=True)
    director_email = models.EmailField(_("courriel de la direction"), blank=True)
    rssi_name = models.CharField(_("RSSI"), max_length=150, blank=True)
    rssi_email = models.EmailField(_("courriel du RSSI"), blank=True)
    continuity_lead_name = models.CharField(
        _("responsable du plan de continuité"), max_length=150, blank=True
    )
    continuity_lead_email = models.EmailField(
        _("courriel du responsable du plan de continuité"), blank=True
    )
    sworn_statement = models.BooleanField(_("déclaration sur l'honneur"), default=False)
    sworn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("déclaration signée par"),
    )
    sworn_at = models.DateTimeField(_("signée le"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("déposée le"), null=True, blank=True)
    requested_amount = _money(_("montant demandé (€)"), default=Decimal("0"))
    granted_amount = _money(_("montant accordé (€)"), null=True)
    paid_amount = _money(_("montant payé (€)"), null=True)
    # Regional instruction: the agent in charge, the latest opinion (its history is in
    # RegionalReview) and the due date of the last return for complements.
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_applications",
        verbose_name=_("agent instructeur"),
    )
    assigned_at = models.DateTimeField(_("attribuée le"), null=True, blank=True)
    regional_opinion = models.CharField(
        _("avis de l'ARS"), max_length=20, choices=Opinion.choices, blank=True
    )
    proposed_amount = _money(_("montant proposé par l'ARS (€)"), null=True)
    return_due_on = models.DateField(_("compléments attendus pour le"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="created_applications",
        verbose_name=_("créée par"),
    )

    objects = ApplicationQuerySet.as_manager()
    # Field history (README "Security"): who changed which field, when, for the fields
    # written by save() (the forms and the admin). The workflow's columns are written by
    # conditional UPDATEs and have their own ledgers, so they are left out here: the
    # status, dates and amounts of each move in Transition (lifecycle.py), the
    # declaration in the submission's Transition, the opinion and proposed amount in
    # RegionalReview, the assignment in the audit trail.
    history = HistoricalRecords(excluded_fields=APPLICATION_WORKFLOW_FIELDS)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("candidature")
        verbose_name_plural = _("candidatures")
        constraints = [
            # One application per candidate and call, a withdrawn one aside: a candidate
            # may withdraw (an ineligible application, say) and start again.
            models.UniqueConstraint(
                fields=["call", "candidate"],
                condition=~models.Q(status=Status.WITHDRAWN),
                name="one_application_per_call",
                violation_error_message=_(
                    "Ce candidat a déjà une candidature à cet appel : une seule est possible "
                    "tant qu'elle n'est pas retirée."
                ),
            )
        ]
        indexes = [models.Index(fields=["call", "status"])]

    def __str__(self) -> str:
        return self.reference

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE_STATUSES


class CoverageQuerySet(models.QuerySet):
    def held(self) -> "CoverageQuerySet":
        """The coverages that still hold their entity's place in the call: neither
        released nor of a withdrawn application (released after the withdrawal's commit,
        `drafting.coverage_release`)."""
        return self.filter(released_at__isnull=True).exclude(application__status=Status.WITHDRAWN)


class Coverage(TimeStampedModel):
    """A legal entity covered by an application. Unique per call among the coverages
    not released: an entity is covered by one application of a call at most (E3: a GHT
    member is covered by its GHT's); the withdrawal of an application releases its
    coverages (`released_at`), so that a new application may cover them."""

    call = models.ForeignKey(
        FundingCall, on_delete=models.CASCADE, related_name="+", verbose_name=_("appel")
    )
    application = models.ForeignKey(
        Application,
        on_delete=models.CASCADE,
        related_name="coverages",
        verbose_name=_("candidature"),
    )
    legal_entity = models.ForeignKey(
        "establishments.LegalEntity",
        on_delete=models.PROTECT,
        related_name="coverages",
        verbose_name=_("entité juridique couverte"),
    )
    released_at = models.DateTimeField(
        _("libérée le"),
        null=True,
        blank=True,
        help_text=_("La candidature a été retirée : l'entité peut être couverte à nouveau."),
    )

    objects = CoverageQuerySet.as_manager()

    class Meta:
        verbose_name = _("entité couverte")
        verbose_name_plural = _("entités couvertes")
        constraints = [
            models.UniqueConstraint(
                fields=["call", "legal_entity"],
                condition=models.Q(released_at__isnull=True),
                name="covered_once_per_call",
                violation_error_message=_(
                    "Cette entité est déjà couverte par une autre candidature à cet appel."
                ),
            )
        ]

    def __str__(self) -> str:
        return str(self.legal_entity)


class Answer(TimeStampedModel):
    class State(models.TextChoices):
        MET = "met", _("Atteint")
        IN_PROGRESS = "in_progress", _("En cours")
        NOT_MET = "not_met", _("Non atteint")

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="answers", verbose_name=_("candidature")
    )
    requirement = models.ForeignKey(
        Requirement, on_delete=models.PROTECT, related_name="answers", verbose_name=_("exigence")
    )
    state = models.CharField(_("réponse"), max_length=20, choices=State.choices, blank=True)
    comment = models.TextField(_("commentaire"), blank=True, max_length=5000)

    class Meta:
        verbose_name = _("réponse")
        verbose_name_plural = _("réponses")
        constraints = [
            models.UniqueConstraint(
                fields=["application", "requirement"], name="one_answer_per_requirement"
            )
        ]

    def __str__(self) -> str:
        return f"{self.requirement.identifier} : {self.get_state_display() or '—'}"


class BudgetLine(TimeStampedModel):
    class Category(models.TextChoices):
        CONSULTING = "consulting", _("Accompagnement et conseil")
        STAFF = "staff", _("Ressources humaines internes")
        SOFTWARE = "software", _("Logiciels et licences")
        HARDWARE = "hardware", _("Matériel (sauvegardes, stockage)")
        TRAINING = "training", _("Formation et exercices de crise")
        OTHER = "other", _("Autre")

    application = models.ForeignKey(
        Application,
        on_delete=models.CASCADE,
        related_name="budget_lines",
        verbose_name=_("candidature"),
    )
    category = models.CharField(_("catégorie"), max_length=20, choices=Category.choices)
    description = models.CharField(_("description"), max_length=500)
    amount = _money(_("montant HT (€)"))

    class Meta:
        ordering = ["application", "id"]
        verbose_name = _("ligne budgétaire")
        verbose_name_plural = _("lignes budgétaires")

    def __str__(self) -> str:
        return f"{self.get_category_display()} : {self.description}"


class Evidence(PublicModel):
    """An uploaded piece of evidence, in private storage; downloads go through a
    scope-checked view."""

    application = models.ForeignKey(
        Application,
        on_delete=models.CASCADE,
        related_name="evidence",
        verbose_name=_("candidature"),
    )
    answer = models.ForeignKey(
        Answer,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="evidence",
        verbose_name=_("réponse"),
    )
    # Evidence of an objective declared reached (after approval), instead of an answer.
    declaration = models.ForeignKey(
        "ObjectiveDeclaration",
        verbose_name=_("déclaration des objectifs"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="evidence",
    )
    file = models.FileField(_("fichier"), upload_to="evidence/%Y/%m/")
    original_name = models.CharField(_("nom du fichier"), max_length=150)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveBigIntegerField(_("taille (octets)"))
    sha256 = models.CharField(_("empreinte SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("envoyée par"),
    )
    # Evidence that went with a submission is never erased: a new version supersedes it
    # and it stays visible, marked "remplacée le …" (applications/evidence.py).
    superseded_at = models.DateTimeField(_("remplacée le"), null=True, blank=True)
    superseded_by = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="supersedes",
        verbose_name=_("remplacée par"),
    )

    # Field history: the upload, its supersession, a deletion before submission.
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("pièce justificative")
        verbose_name_plural = _("pièces justificatives")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(superseded_at__isnull=True, superseded_by__isnull=True)
                | models.Q(superseded_at__isnull=False),
                name="evidence_superseded_has_date",
            )
        ]

    def __str__(self) -> str:
        return self.original_name

    @property
    def is_current(self) -> bool:
        return self.superseded_at is None

    def transmitted_with(self, application: "Application") -> bool:
        """Whether this file went with a submission of `application` (its latest
        submission came after the upload): it can then be superseded, never deleted.
        Reads `application.submitted_at`, no query (evidence of an objective
        declaration: see evidence.transmitted_at)."""
        submitted = application.submitted_at
        return submitted is not None and self.created_at <= submitted


class Transition(models.Model):
    """One change of an application's status: the log of the lifecycle."""

    application = models.ForeignKey(
        Application,
        on_delete=models.CASCADE,
        related_name="transitions",
        verbose_name=_("candidature"),
    )
    from_status = models.CharField(_("de"), max_length=30, choices=Status.choices)
    to_status = models.CharField(_("vers"), max_length=30, choices=Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("auteur"),
    )
    comment = models.TextField(_("commentaire"), blank=True)
    created_at = models.DateTimeField(_("date"), default=timezone.now)
    # Set by the lifecycle in the transition's own transaction, cleared in the one that
    # sends its e-mail (applications/notifications.py): the sweeper finds those whose
    # task was lost.
    notification_pending = models.BooleanField(_("notification à envoyer"), default=False)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("changement d'état")
        verbose_name_plural = _("changements d'état")
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(notification_pending=True),
                name="transition_notification_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.application_id}: {self.from_status} → {self.to_status}"

    @property
    def is_automatic(self) -> bool:
        """Taken by the system (the eligibility task), not by a person."""
        from .lifecycle import Actor, rule_for

        rule = rule_for(self.from_status, self.to_status)
        return self.actor_id is None and rule is not None and rule.actors == {Actor.SYSTEM.value}


class RescoringBatch(models.Model):
    """One batch of a bulk rescoring run (`scoring.rescore_call`): written before its
    message is sent, marked done in the transaction that scores it. The sweeper queues
    again a batch whose message was lost; a run's progress is read from its batches."""

    run = models.UUIDField(_("recalcul"), db_index=True)
    application_ids = models.JSONField(_("candidatures"), default=list)
    size = models.PositiveIntegerField(_("taille"))
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)
    done_at = models.DateTimeField(_("traité le"), null=True, blank=True)

    class Meta:
        verbose_name = _("lot de recalcul")
        verbose_name_plural = _("lots de recalcul")
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(done_at__isnull=True),
                name="rescoring_batch_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.run.hex[:8]}: {self.size}"


class Message(PublicModel):
    """The thread between an application's establishment and its instructors."""

    application = models.ForeignKey(
        Application,
        on_delete=models.CASCADE,
        related_name="messages",
        verbose_name=_("candidature"),
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("auteur"),
    )
    body = models.TextField(_("message"), max_length=10000)
    is_return_request = models.BooleanField(_("demande de compléments"), default=False)
    # As Transition.notification_pending: set when posted, cleared once notified.
    notification_pending = models.BooleanField(_("notification à envoyer"), default=False)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(notification_pending=True),
                name="message_notification_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%d/%m/%Y %H:%M} – {self.body[:60]}"


class EligibilityResult(TimeStampedModel):
    """The explained result of the eligibility rules and the priority score of one
    application (applications/eligibility.py). Recomputing overwrites it."""

    application = models.OneToOneField(
        Application,
        on_delete=models.CASCADE,
        related_name="eligibility",
        verbose_name=_("candidature"),
    )
    rules_version = models.CharField(_("version des règles"), max_length=20)
    eligible = models.BooleanField(_("éligible"))
    score = models.DecimalField(_("score de priorité"), max_digits=5, decimal_places=2)
    rules = models.JSONField(_("règles"), default=list)
    factors = models.JSONField(_("facteurs du score"), default=list)
    computed_at = models.DateTimeField(_("calculé le"))

    class Meta:
        verbose_name = _("résultat d'éligibilité")
        verbose_name_plural = _("résultats d'éligibilité")
        indexes = [models.Index(fields=["eligible", "-score"])]

    def __str__(self) -> str:
        return f"{self.application_id}: {self.score}"


class Dossier(PublicModel):
    """A rendered PDF of an application (applications/pdf.py): the dossier at each
    submission, the decision letter at each decision. Unique on (application, kind,
    version), so that a redelivered rendering task reuses its row (DESIGN.md)."""

    class Kind(models.TextChoices):
        DOSSIER = "dossier", _("Dossier de candidature")
        DECISION = "decision", _("Lettre de décision")

    class Status(models.TextChoices):
        PENDING = "pending", _("En attente")
        RUNNING = "running", _("En cours de génération")
        DONE = "done", _("Disponible")
        FAILED = "failed", _("En échec")

    application = models.ForeignKey(
        Application,
        on_delete=models.CASCADE,
        related_name="dossiers",
        verbose_name=_("candidature"),
    )
    kind = models.CharField(_("nature"), max_length=20, choices=Kind.choices)
    version = models.PositiveIntegerField(
        _("version"), help_text=_("Le rang du dépôt (dossier) ou de la décision (lettre).")
    )
    status = models.CharField(
        _("état"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    # Private storage, under a server-generated name (applications/dossiers.py).
    file = models.FileField(_("fichier"), upload_to="dossiers/%Y/%m/", blank=True)
    sha256 = models.CharField(_("empreinte SHA-256"), max_length=64, blank=True)
    pages = models.PositiveIntegerField(_("pages"), null=True, blank=True)
    size = models.PositiveBigIntegerField(_("taille (octets)"), null=True, blank=True)
    generated_at = models.DateTimeField(_("généré le"), null=True, blank=True)
    error = models.TextField(_("erreur"), blank=True)
    attempts = models.PositiveIntegerField(_("tentatives"), default=0)

    class Meta:
        ordering = ["application", "kind", "-version"]
        verbose_name = _("dossier PDF")
        verbose_name_plural = _("dossiers PDF")
        constraints = [
            models.UniqueConstraint(
                fields=["application", "kind", "version"], name="one_dossier_per_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.application_id} {self.kind} v{self.version}"


# --- Instruction and decisions -------------------------------------------------------------


class RegionalReview(TimeStampedModel):
    """An ARS opinion on an application, with its motivation and a proposed amount."""

    application = models.ForeignKey(
        Application,
        on_delete=models.CASCADE,
        related_name="regional_reviews",
        verbose_name=_("candidature"),
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("auteur"),
    )
    opinion = models.CharField(_("avis"), max_length=20, choices=Opinion.choices)
    motivation = models.TextField(_("motivation"), max_length=10000)
    proposed_amount = _money(_("montant proposé (€)"), null=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("avis de l'ARS")
        verbose_name_plural = _("avis de l'ARS")

    def __str__(self) -> str:
        return f"{self.application} – {self.get_opinion_display()}"


class InstructionNote(PublicModel):
    """A private note between agents: never shown to the applicant."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="notes", verbose_name=_("candidature")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("auteur"),
    )
    body = models.TextField(_("note"), max_length=10000)

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("note d'instruction")
        verbose_name_plural = _("notes d'instruction")

    def __str__(self) -> str:
        return f"{self.application} – {self.created_at:%Y-%m-%d}"


class CoSignature(TimeStampedModel):
    """Four-eyes: an approval above the call's threshold waits here for a second
    ministry user approving the same amount; the status changes only then."""

    class State(models.TextChoices):
        PENDING = "pending", _("À co-signer")
        SIGNED = "signed", _("Co-signée")
        CANCELLED = "cancelled", _("Annulée")

    application = models.ForeignKey(
        Application,
        on_delete=models.CASCADE,
        related_name="co_signatures",
        verbose_name=_("candidature"),
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("première signature"),
    )
    amount = _money(_("montant (€)"))
    comment = models.TextField(_("motivation"), blank=True)
    state = models.CharField(
        _("état"), max_length=20, choices=State.choices, default=State.PENDING, db_index=True
    )
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("seconde signature"),
    )
    signed_at = models.DateTimeField(_("co-signée le"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("co-signature")
        verbose_name_plural = _("co-signatures")
        constraints = [
            models.UniqueConstraint(
                fields=["application"],
                condition=models.Q(state="pending"),
                name="one_pending_co_signature",
            )
        ]

    def __str__(self) -> str:
        return f"{self.application} – {self.amount} €"


class ConflictDeclaration(TimeStampedModel):
    """A user declares a conflict of interest with a legal entity: they can neither
    instruct nor decide the applications that cover it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="conflict_declarations",
        verbose_name=_("agent"),
    )
    legal_entity = models.ForeignKey(
        "establishments.LegalEntity",
        on_delete=models.CASCADE,
        related_name="conflict_declarations",
        verbose_name=_("entité juridique"),
    )
    reason = models.TextField(_("motif"), max_length=2000)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("déclaration de conflit d'intérêts")
        verbose_name_plural = _("déclarations de conflit d'intérêts")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "legal_entity"], name="one_declaration_per_entity"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.legal_entity}"


# --- Tracking to payment -------------------------------------------------------------------


class ObjectiveDeclaration(TimeStampedModel):
    """After approval, the establishment declares a requirement reached; the ARS
    accepts it or returns it with a reason."""

    class State(models.TextChoices):
        DECLARED = "declared", _("Déclaré atteint")
        ACCEPTED = "accepted", _("Accepté par l'ARS")
        RETURNED = "returned", _("Renvoyé par l'ARS")

    application = models.ForeignKey(
        Application,
        on_delete=models.CASCADE,
        related_name="objective_declarations",
        verbose_name=_("candidature"),
    )
    requirement = models.ForeignKey(
        Requirement,
        on_delete=models.PROTECT,
        related_name="declarations",
        verbose_name=_("exigence"),
    )
    state = models.CharField(
        _("état"), max_length=20, choices=State.choices, default=State.DECLARED
    )
    comment = models.TextField(_("commentaire de l'établissement"), blank=True, max_length=5000)
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        verbose_name=_("déclarée par"),
    )
    review_comment = models.TextField(_("motif de l'ARS"), blank=True, max_length=5000)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("vérifiée par"),
    )
    reviewed_at = models.DateTimeField(_("vérifié le"), null=True, blank=True)

    class Meta:
        ordering = ["requirement__position"]
        verbose_name = _("déclaration d'objectif")
        verbose_name_plural = _("déclarations d'objectifs")
        constraints = [
            models.UniqueConstraint(
                fields=["application", "requirement"], name="one_declaration_per_requirement"
            )
        ]

    def __str__(self) -> str:
        return f"{self.application} – {self.requirement.identifier}"


class Payment(PublicModel):
    """A payment recorded by the ministry (Chorus reference), in tranches where the
    call says so; their sum never exceeds the granted amount."""

    class Tranche(models.TextChoices):
        ADVANCE = "advance", _("Avance à l'accord")
        BALANCE = "balance", _("Solde après validation des objectifs")

    application = models.ForeignKey(
        Application,
        on_delete=models.PROTECT,
        related_name="payments",
        verbose_name=_("candidature"),
    )
    tranche = models.CharField(_("tranche"), max_length=20, choices=Tranche.choices)
    amount = _money(_("montant (€)"))
    paid_on = models.DateField(_("date de paiement"))
    chorus_reference = models.CharField(_("référence Chorus"), max_length=40)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("enregistré par"),
    )

    class Meta:
        ordering = ["paid_on", "created_at"]
        verbose_name = _("paiement")
        verbose_name_plural = _("paiements")

    def __str__(self) -> str:
        return f"{self.application} – {self.amount} € ({self.paid_on})"


class FundedApplication(Application):
    """The applications past approval, as the ministry follows them to payment in the
    admin (applications/admin_tracking.py): a proxy, no table of its own."""

    class Meta:
        proxy = True
        verbose_name = _("suivi jusqu'au paiement")
        verbose_name_plural = _("suivi jusqu'au paiement")


# --- Daily digests and reminders -----------------------------------------------------------


class DigestSent(models.Model):
    """One digest e-mailed to one user on one day (applications/digests.py): never two
    of a kind the same day, and the start of "new since the last digest"."""

    class Kind(models.TextChoices):
        WORK = "work", _("Récapitulatif quotidien")
        REMINDERS = "reminders", _("Rappels d'échéance")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="digests_sent",
        verbose_name=_("utilisateur"),
    )
    kind = models.CharField(_("nature"), max_length=20, choices=Kind.choices)
    day = models.DateField(_("jour"))
    sent_at = models.DateTimeField(_("envoyé le"), default=timezone.now)

    class Meta:
        ordering = ["-day"]
        verbose_name = _("récapitulatif envoyé")
        verbose_name_plural = _("récapitulatifs envoyés")
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "day"], name="one_digest_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} {self.day}"
