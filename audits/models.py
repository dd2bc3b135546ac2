"""Volet 1 (D1) results: Active Directory audits, internet exposure scans, the import
batches they came from, and each legal entity's derived Volet 1 status."""

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from care_portal.imports.models import ImportBatchBase
from care_portal.models import PublicModel, TimeStampedModel

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def _score(label: "StrOrPromise") -> Any:
    return models.PositiveSmallIntegerField(
        label, null=True, blank=True, validators=[MaxValueValidator(100)]
    )


class AuditKind(models.TextChoices):
    DIRECTORY = "ad", _("Audit Active Directory")
    EXPOSURE = "exposure", _("Audit d'exposition sur internet")


class DirectoryAudit(TimeStampedModel):
    """An Active Directory audit (ORADAD or PingCastle) of one AD domain of an entity.

    PingCastle scores run 0–100, lower is better; the global score is the highest of
    the four category scores. The maturity level is ANSSI's 1–5 (5 is best)."""

    class Tool(models.TextChoices):
        PINGCASTLE = "pingcastle", "PingCastle"
        ORADAD = "oradad", "ORADAD"

    legal_entity = models.ForeignKey(
        "establishments.LegalEntity",
        on_delete=models.CASCADE,
        related_name="directory_audits",
        verbose_name=_("entité juridique"),
    )
    audit_date = models.DateField(_("date de l'audit"))
    tool = models.CharField(_("outil"), max_length=20, choices=Tool.choices)
    domain = models.CharField(_("domaine AD"), max_length=255)
    global_score = _score(_("score global"))
    stale_objects_score = _score(_("objets obsolètes"))
    privileged_accounts_score = _score(_("comptes à privilèges"))
    trusts_score = _score(_("relations d'approbation"))
    anomalies_score = _score(_("anomalies"))
    maturity_level = models.PositiveSmallIntegerField(
        _("niveau de maturité ANSSI"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )
    findings_critical = models.PositiveIntegerField(_("constats critiques"), default=0)
    findings_high = models.PositiveIntegerField(_("constats élevés"), default=0)
    findings_medium = models.PositiveIntegerField(_("constats moyens"), default=0)
    findings_low = models.PositiveIntegerField(_("constats faibles"), default=0)
    # PingCastle reports only: the engine that wrote the report, whether the maturity
    # level was computed from the rules (a 2.x report carries none), and a digest of the
    # triggered rules (DirectoryAuditRule) so that a re-import that changes nothing
    # writes nothing.
    engine_version = models.CharField(_("version de PingCastle"), max_length=40, blank=True)
    maturity_from_rules = models.BooleanField(
        _("niveau calculé à partir des règles"), default=False
    )
    rules_fingerprint = models.CharField(
        _("empreinte des règles"), max_length=64, blank=True, editable=False
    )
    import_batch = models.ForeignKey(
        "AuditImport",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="directory_audits",
        verbose_name=_("import"),
    )

    class Meta:
        ordering = ["-audit_date", "domain"]
        verbose_name = _("audit Active Directory")
        verbose_name_plural = _("audits Active Directory")
        constraints = [
            models.UniqueConstraint(
                fields=["legal_entity", "tool", "domain", "audit_date"],
                name="directory_audit_natural_key",
            ),
            models.CheckConstraint(
                condition=models.Q(maturity_level__isnull=True)
                | models.Q(maturity_level__gte=1, maturity_level__lte=5),
                name="directory_audit_maturity_1_5",
            ),
            models.CheckConstraint(
                condition=models.Q(global_score__isnull=True) | models.Q(global_score__lte=100),
                name="directory_audit_global_score_0_100",
            ),
        ]
        indexes = [models.Index(fields=["legal_entity", "-audit_date"])]

    def __str__(self) -> str:
        return f"{self.get_tool_display()} {self.domain} {self.audit_date:%d/%m/%Y}"


class DirectoryAuditRule(models.Model):
    """A PingCastle rule triggered in one audit, with its ANSSI maturity level (the
    report's own per-rule level, else the shipped table's: audits/pingcastle_rules.py;
    None: "niveau inconnu")."""

    audit = models.ForeignKey(
        DirectoryAudit,
        on_delete=models.CASCADE,
        related_name="rules",
        verbose_name=_("audit"),
    )
    risk_id = models.CharField(_("règle"), max_length=100)
    category = models.CharField(_("catégorie"), max_length=50, blank=True)
    model = models.CharField(_("modèle de risque"), max_length=100, blank=True)
    points = models.PositiveIntegerField(_("points"), default=0)
    rationale = models.TextField(_("constat"), blank=True)
    maturity_level = models.PositiveSmallIntegerField(
        _("niveau de maturité ANSSI"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )

    class Meta:
        ordering = ["audit", "category", "risk_id"]
        verbose_name = _("règle PingCastle déclenchée")
        verbose_name_plural = _("règles PingCastle déclenchées")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(maturity_level__isnull=True)
                | models.Q(maturity_level__gte=1, maturity_level__lte=5),
                name="directory_audit_rule_maturity_1_5",
            ),
        ]

    def __str__(self) -> str:
        return self.risk_id


class ExposureScan(TimeStampedModel):
    """An internet exposure scan (ANSSI SILENE) of an entity, on one date."""

    legal_entity = models.ForeignKey(
        "establishments.LegalEntity",
        on_delete=models.CASCADE,
        related_name="exposure_scans",
        verbose_name=_("entité juridique"),
    )
    scan_date = models.DateField(_("date du scan"))
    exposed_services = models.PositiveIntegerField(_("services exposés"), default=0)
    vulns_critical = models.PositiveIntegerField(_("vulnérabilités critiques"), default=0)
    vulns_high = models.PositiveIntegerField(_("vulnérabilités élevées"), default=0)
    vulns_medium = models.PositiveIntegerField(_("vulnérabilités moyennes"), default=0)
    vulns_low = models.PositiveIntegerField(_("vulnérabilités faibles"), default=0)
    minimum_level_met = models.BooleanField(_("niveau minimal de sécurité atteint"))
    import_batch = models.ForeignKey(
        "AuditImport",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="exposure_scans",
        verbose_name=_("import"),
    )

    class Meta:
        ordering = ["-scan_date"]
        verbose_name = _("scan d'exposition")
        verbose_name_plural = _("scans d'exposition")
        constraints = [
            models.UniqueConstraint(
                fields=["legal_entity", "scan_date"], name="exposure_scan_natural_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.legal_entity_id} {self.scan_date:%d/%m/%Y}"


class AuditImport(ImportBatchBase, PublicModel):
    """One uploaded file of audit results, processed by a Celery task (status,
    progress, counts and errors: ImportBatchBase)."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        JSON = "json", "JSON"
        PINGCASTLE_XML = "pingcastle_xml", _("Rapport PingCastle (XML)")
        PINGCASTLE_ZIP = "pingcastle_zip", _("Rapports PingCastle (zip)")

    kind = models.CharField(_("type"), max_length=20, choices=AuditKind.choices)
    file_format = models.CharField(_("format"), max_length=20, choices=Format.choices)
    file = models.FileField(_("fichier"), upload_to="audit-imports/%Y/%m/")
    original_filename = models.CharField(_("nom du fichier"), max_length=255)
    file_size = models.PositiveBigIntegerField(_("taille (octets)"), default=0)
    legal_entity = models.ForeignKey(
        "establishments.LegalEntity",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_imports",
        verbose_name=_("entité juridique (rapports PingCastle)"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_imports",
        verbose_name=_("importé par"),
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("import d'audits")
        verbose_name_plural = _("imports d'audits")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} – {self.original_filename}"


class Volet1Level(models.TextChoices):
    NONE = "none", _("Aucun objectif atteint")
    AD_DONE = "ad_done", _("Audit AD réalisé")
    EXPOSURE_MET = "exposure_met", _("Objectif d'exposition atteint")
    BOTH = "both", _("Les deux objectifs atteints")


class Volet1Status(TimeStampedModel):
    """The stored result of `audits.status.compute_volet1_status` for one entity, kept
    current by every write of audits and scans, so that lists filter on it in SQL."""

    legal_entity = models.OneToOneField(
        "establishments.LegalEntity",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="volet1",
        verbose_name=_("entité juridique"),
    )
    level = models.CharField(
        _("statut Volet 1"), max_length=20, choices=Volet1Level.choices, default=Volet1Level.NONE
    )
    ad_audit_date = models.DateField(_("dernier audit AD"), null=True, blank=True)
    exposure_first_scan_date = models.DateField(_("premier scan retenu"), null=True, blank=True)
    exposure_second_scan_date = models.DateField(_("second scan retenu"), null=True, blank=True)
    last_scan_date = models.DateField(_("dernier scan"), null=True, blank=True)

    class Meta:
        verbose_name = _("statut Volet 1")
        verbose_name_plural = _("statuts Volet 1")
        indexes = [models.Index(fields=["level"])]

    def __str__(self) -> str:
        return f"{self.legal_entity_id}: {self.level}"
