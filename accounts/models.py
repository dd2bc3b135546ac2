"""Users log in with their e-mail; what they see comes from their memberships."""

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from care_portal.models import PublicModel, TimeStampedModel


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: object) -> "User":
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> "User":
        return self.get(email__iexact=username)


@dataclass(frozen=True)
class Scope:
    """What a user may see, resolved once from their memberships."""

    national: bool = False
    region_ids: frozenset[int] = field(default_factory=frozenset)
    legal_entity_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def empty(self) -> bool:
        return not (self.national or self.region_ids or self.legal_entity_ids)


class User(PublicModel, AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(_("adresse électronique"), unique=True)
    full_name = models.CharField(_("nom complet"), max_length=150, blank=True)
    is_staff = models.BooleanField(
        _("accès à l'administration"),
        default=False,
        help_text=_("Peut se connecter à l'interface d'administration."),
    )
    is_active = models.BooleanField(_("actif"), default=True)
    date_joined = models.DateTimeField(_("date d'inscription"), default=timezone.now)
    # Daily e-mails (Celery beat): what waits for an agent; reminders for an applicant.
    wants_work_digest = models.BooleanField(_("reçoit le récapitulatif quotidien"), default=True)
    wants_reminders = models.BooleanField(_("reçoit les rappels d'échéance"), default=True)
    # Part of every session's authentication hash: a new value signs out every device.
    session_token = models.CharField(
        _("jeton de session"), max_length=32, blank=True, default="", editable=False
    )

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = _("utilisateur")
        verbose_name_plural = _("utilisateurs")
        ordering = ["email"]
        constraints = [
            # Login looks the address up case-insensitively: two addresses that differ
            # only in case would be two accounts behind one login.
            models.UniqueConstraint(
                Lower("email"),
                name="user_email_ci_unique",
                violation_error_message=_(
                    "Un utilisateur avec cette adresse électronique existe déjà."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        """The password's HMAC (Django's) salted with `session_token`, so that "log out
        of every device" invalidates every session without changing the password."""
        key_salt = "accounts.User.get_session_auth_hash"
        value = f"{self.password}:{self.session_token}"
        return salted_hmac(key_salt, value, secret=secret, algorithm="sha256").hexdigest()

    def clean(self) -> None:
        super().clean()
        if not self.email:
            return
        self.email = self.email.lower()
        # The constraint's check, made here on the field so that a form shows it at the
        # e-mail (the field's own unique check only compares the exact case).
        if User._default_manager.filter(email__iexact=self.email).exclude(pk=self.pk).exists():
            raise ValidationError(
                {
                    "email": ValidationError(
                        _("Un utilisateur avec cette adresse électronique existe déjà."),
                        code="unique",
                    )
                }
            )

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Forms (the admin's among them) do not go through UserManager: lower the
        # address here too, so that every stored address is in lower case.
        if self.email:
            self.email = self.email.lower()
        super().save(*args, **kwargs)

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email

    @cached_property
    def scope(self) -> Scope:
        if not self.is_active:
            return Scope()
        national = self.is_superuser
        regions: set[int] = set()
        entities: set[int] = set()
        for role, region_id, legal_entity_id in self.memberships.values_list(
            "role", "region_id", "legal_entity_id"
        ):
            if role == Membership.Role.MINISTRY:
                national = True
            elif role == Membership.Role.REGIONAL and region_id:
                regions.add(region_id)
            elif role == Membership.Role.ESTABLISHMENT and legal_entity_id:
                entities.add(legal_entity_id)
        return Scope(national, frozenset(regions), frozenset(entities))

    @property
    def roles(self) -> set[str]:
        """Roles held, derived from the scope (no query of its own)."""
        scope = self.scope
        roles = set()
        if scope.national:
            roles.add(Membership.Role.MINISTRY.value)
        if scope.region_ids:
            roles.add(Membership.Role.REGIONAL.value)
        if scope.legal_entity_ids:
            roles.add(Membership.Role.ESTABLISHMENT.value)
        return roles


class Membership(TimeStampedModel):
    """A role of a user, with its scope: a legal entity, a region, or the nation."""

    class Role(models.TextChoices):
        ESTABLISHMENT = "establishment", _("Établissement")
        REGIONAL = "regional", _("ARS (région)")
        MINISTRY = "ministry", _("Ministère / ANS")

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("utilisateur")
    )
    role = models.CharField(_("rôle"), max_length=20, choices=Role.choices)
    legal_entity = models.ForeignKey(
        "establishments.LegalEntity",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="memberships",
        verbose_name=_("entité juridique"),
    )
    region = models.ForeignKey(
        "establishments.Region",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="memberships",
        verbose_name=_("région"),
    )

    # Field history (README "Security"): who gave or changed a role, when.
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("rattachement")
        verbose_name_plural = _("rattachements")
        constraints = [
            models.CheckConstraint(
                name="membership_scope_matches_role",
                condition=(
                    models.Q(role="establishment", legal_entity__isnull=False, region__isnull=True)
                    | models.Q(role="regional", region__isnull=False, legal_entity__isnull=True)
                    | models.Q(role="ministry", region__isnull=True, legal_entity__isnull=True)
                ),
            ),
            models.UniqueConstraint(
                fields=["user", "role", "legal_entity", "region"],
                name="unique_membership",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        target = self.legal_entity or self.region or _("national")
        return f"{self.user} – {self.get_role_display()} – {target}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.role == self.Role.ESTABLISHMENT and (not self.legal_entity_id or self.region_id):
            raise ValidationError(
                _("Un rattachement « établissement » porte sur une entité juridique, sans région.")
            )
        if self.role == self.Role.REGIONAL and (not self.region_id or self.legal_entity_id):
            raise ValidationError(
                _("Un rattachement « ARS » porte sur une région, sans entité juridique.")
            )
        if self.role == self.Role.MINISTRY and (self.region_id or self.legal_entity_id):
            raise ValidationError(
                _("Un rattachement « ministère » est national : ni région ni entité.")
            )


class AuditEvent(models.Model):
    """One line of the append-only audit trail: who did what, when, from where, to
    which object. Never updated nor deleted (a PostgreSQL trigger refuses both); the
    actor is a plain reference (no cascade can ever touch a row)."""

    class Action(models.TextChoices):
        LOGIN = "login", _("Connexion")
        LOGIN_FAILED = "login_failed", _("Échec de connexion")
        LOCKOUT = "lockout", _("Blocage après échecs")
        LOGOUT = "logout", _("Déconnexion")
        LOGOUT_EVERYWHERE = "logout_everywhere", _("Déconnexion de tous les appareils")
        PASSWORD_RESET_REQUESTED = "password_reset_requested", _("Demande de réinitialisation")
        TWO_FACTOR_ENROLLED = "two_factor_enrolled", _("Double authentification activée")
        TWO_FACTOR_VERIFIED = "two_factor_verified", _("Double authentification validée")
        TWO_FACTOR_FAILED = "two_factor_failed", _("Code de double authentification refusé")
        RECOVERY_CODES_RENEWED = "recovery_codes_renewed", _("Codes de secours renouvelés")
        ACCESS_DENIED = "access_denied", _("Accès refusé")
        TRANSITION = "transition", _("Changement de statut")
        DECISION = "decision", _("Décision")
        DOWNLOAD = "download", _("Téléchargement")
        EVIDENCE_DELETED = "evidence_deleted", _("Pièce supprimée")
        EXPORT = "export", _("Export")
        ADMIN_CHANGE = "admin_change", _("Modification dans l'administration")
        API_TOKEN_CREATED = "api_token_created", _("Jeton d'API créé")
        API_TOKEN_REVOKED = "api_token_revoked", _("Jeton d'API révoqué")
        API_READ = "api_read", _("Lecture par l'API")

    created_at = models.DateTimeField(_("date"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        User,
        verbose_name=_("auteur"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_email = models.CharField(_("adresse de l'auteur"), max_length=254, blank=True)
    ip_address = models.GenericIPAddressField(_("adresse IP"), null=True, blank=True)
    action = models.CharField(_("action"), max_length=40, choices=Action.choices, db_index=True)
    object_type = models.CharField(_("type d'objet"), max_length=80, blank=True)
    object_id = models.CharField(_("identifiant de l'objet"), max_length=80, blank=True)
    details = models.JSONField(_("détails"), default=dict, blank=True)

    class Meta:
        verbose_name = _("événement du journal d'audit")
        verbose_name_plural = _("journal d'audit")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.get_action_display()}"


class ApiToken(PublicModel):
    """A personal token of the read-only API (accounts/api_tokens.py): it reads what
    its user may see, until it expires or is revoked. Only its SHA-256 is stored; the
    token itself is shown once, when it is created, and its prefix names it after."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("utilisateur")
    )
    name = models.CharField(_("nom"), max_length=100)
    prefix = models.CharField(_("début du jeton"), max_length=16)
    key_hash = models.CharField(_("empreinte SHA-256"), max_length=64, unique=True)
    expires_at = models.DateTimeField(_("expire le"))
    last_used_at = models.DateTimeField(_("dernière utilisation"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("révoqué le"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("jeton d'API")
        verbose_name_plural = _("jetons d'API")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, at: Any = None) -> bool:
        moment = at or timezone.now()
        return self.revoked_at is None and self.expires_at > moment
