"""The establishment directory: territory, GHTs, legal entities (EJ) and sites (ET)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from care_portal.models import PublicModel, TimeStampedModel

from .identifiers import format_finess, validate_finess, validate_siren, validate_siret
from .querysets import GHTQuerySet, LegalEntityQuerySet, SiteQuerySet
from .reference import FINESS_CATEGORIES


class Region(TimeStampedModel):
    code = models.CharField(_("code INSEE"), max_length=2, unique=True)
    name = models.CharField(_("nom"), max_length=100)
    ars_name = models.CharField(_("agence régionale de santé"), max_length=120)

    class Meta:
        ordering = ["name"]
        verbose_name = _("région")
        verbose_name_plural = _("régions")

    def __str__(self) -> str:
        return self.name


class Department(TimeStampedModel):
    code = models.CharField(_("code"), max_length=3, unique=True)
    name = models.CharField(_("nom"), max_length=100)
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="departments", verbose_name=_("région")
    )
    chef_lieu = models.CharField(_("chef-lieu"), max_length=100, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("département")
        verbose_name_plural = _("départements")

    def __str__(self) -> str:
        return f"{self.code} – {self.name}"


class StatusGroup(models.TextChoices):
    """Legal status of a legal entity (the GHT group of statistics is derived)."""

    PUBLIC = "public", _("Public")
    PRIVATE_NON_PROFIT = "private_non_profit", _("Privé à but non lucratif (EBNL)")
    PRIVATE_FOR_PROFIT = "private_for_profit", _("Privé à but lucratif")


class StatisticsGroup(models.TextChoices):
    """The four groups of every CaRE statistic and eligibility rule (DOMAIN.md): the
    legal status, with public entities split by GHT membership."""

    GHT = "ght", _("GHT")
    PUBLIC_OUTSIDE_GHT = "public_outside_ght", _("Public hors GHT")
    PRIVATE_NON_PROFIT = "private_non_profit", _("Privé à but non lucratif (EBNL)")
    PRIVATE_FOR_PROFIT = "private_for_profit", _("Privé à but lucratif")

    @classmethod
    def of(cls, status_group: str, in_ght: bool) -> "StatisticsGroup":
        if status_group == StatusGroup.PUBLIC:
            return cls.GHT if in_ght else cls.PUBLIC_OUTSIDE_GHT
        return cls(status_group)


class GHT(PublicModel):
    """Groupement hospitalier de territoire: public entities around a support entity."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("nom"), max_length=200)
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="ghts", verbose_name=_("région")
    )

    objects = GHTQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("GHT")
        verbose_name_plural = _("GHT")

    def __str__(self) -> str:
        return self.name


class LegalEntity(PublicModel):
    """Entité juridique (EJ), identified by its FINESS EJ number: the candidate."""

    finess = models.CharField(
        _("FINESS EJ"), max_length=9, unique=True, validators=[validate_finess]
    )
    siren = models.CharField(_("SIREN"), max_length=9, blank=True, validators=[validate_siren])
    name = models.CharField(_("raison sociale"), max_length=255)
    status_group = models.CharField(
        _("statut juridique"), max_length=20, choices=StatusGroup.choices
    )
    finess_category = models.CharField(_("catégorie FINESS"), max_length=4, blank=True)
    legal_status_code = models.CharField(
        _("code de statut juridique FINESS"),
        max_length=4,
        blank=True,
        help_text=_("Code de la nomenclature FINESS, renseigné par l'import des extractions."),
    )
    department = models.ForeignKey(
        Department,
        on_delete=models.PROTECT,
        related_name="legal_entities",
        verbose_name=_("département"),
    )
    ght = models.ForeignKey(
        GHT,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("GHT"),
    )
    is_ght_support = models.BooleanField(_("établissement support du GHT"), default=False)
    staff_count = models.PositiveIntegerField(
        _("effectif SAE"),
        null=True,
        blank=True,
        help_text=_("Salariés et libéraux, dernière SAE connue (2024, 2023 ou 2022)."),
    )
    active = models.BooleanField(_("active"), default=True)

    objects = LegalEntityQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("entité juridique")
        verbose_name_plural = _("entités juridiques")
        indexes = [
            models.Index(fields=["name", "id"]),
            models.Index(fields=["department", "name"]),
            models.Index(fields=["status_group"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(is_ght_support=False) | models.Q(ght__isnull=False),
                name="ght_support_has_ght",
            ),
            models.UniqueConstraint(
                fields=["ght"],
                condition=models.Q(is_ght_support=True),
                name="one_support_per_ght",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.finess})"

    @property
    def finess_display(self) -> str:
        return format_finess(self.finess)

    @property
    def finess_category_label(self) -> str:
        return FINESS_CATEGORIES.get(self.finess_category, self.finess_category)

    @property
    def statistics_group(self) -> "StatisticsGroup":
        """The four groups of every CaRE statistic (DOMAIN.md)."""
        return StatisticsGroup.of(self.status_group, self.ght_id is not None)


class Site(PublicModel):
    """Établissement géographique (ET), identified by its FINESS ET number."""

    finess = models.CharField(
        _("FINESS ET"), max_length=9, unique=True, validators=[validate_finess]
    )
    siret = models.CharField(_("SIRET"), max_length=14, blank=True, validators=[validate_siret])
    legal_entity = models.ForeignKey(
        LegalEntity,
        on_delete=models.CASCADE,
        related_name="sites",
        verbose_name=_("entité juridique"),
    )
    name = models.CharField(_("nom"), max_length=255)
    category = models.CharField(_("catégorie FINESS"), max_length=4, blank=True)
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="sites", verbose_name=_("département")
    )
    beds = models.PositiveIntegerField(_("lits et places"), null=True, blank=True)
    # Coordinates as FINESS publishes them, with their reference system (Lambert 93 in
    # metropolitan France, UTM overseas in the etalab extract; WGS84 in FINESS+).
    coord_x = models.FloatField(_("coordonnée X"), null=True, blank=True)
    coord_y = models.FloatField(_("coordonnée Y"), null=True, blank=True)
    coord_system = models.CharField(
        _("système de coordonnées"),
        max_length=30,
        blank=True,
        help_text=_("LAMBERT_93, UTM_N20, UTM_S40… ou WGS84 (X longitude, Y latitude)."),
    )
    coord_source = models.CharField(_("source des coordonnées"), max_length=120, blank=True)

    objects = SiteQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("établissement (site)")
        verbose_name_plural = _("établissements (sites)")

    def __str__(self) -> str:
        return f"{self.name} ({self.finess})"

    @property
    def finess_display(self) -> str:
        return format_finess(self.finess)

    @property
    def category_label(self) -> str:
        return FINESS_CATEGORIES.get(self.category, self.category)
