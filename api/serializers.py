"""What the API shows of each object, and the query parameters it accepts (as
serializers, so that bad values get a 400 naming the parameter, and the schema lists
them)."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from applications.models import Application, FundingCall
from audits.models import Volet1Level
from establishments.models import LegalEntity, StatisticsGroup, StatusGroup
from establishments.reference import DEPARTMENTS, REGIONS

# --- Query parameters ----------------------------------------------------------------------


# Regions and départements are reference data (a data migration): their codes are
# listed in the schema.
REGION_CODES = [(code, name) for code, name, _ars in REGIONS]
DEPARTMENT_CODES = [(code, name) for code, name, _region, _chef_lieu in DEPARTMENTS]


def _region_field(label: Any) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=REGION_CODES, required=False, help_text=label)


def _department_field(label: Any) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=DEPARTMENT_CODES, required=False, help_text=label)


def _call_field(label: Any) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(
        slug_field="code",
        queryset=FundingCall.objects.all(),
        required=False,
        help_text=label,
        error_messages={"does_not_exist": _("Appel inconnu : {value}.")},
    )


class LegalEntityFilters(serializers.Serializer):
    region = _region_field(_("Code INSEE de la région, par exemple 84."))
    department = _department_field(_("Code du département, par exemple 69 ou 2A."))
    statistics_group = serializers.ChoiceField(
        choices=StatisticsGroup.choices, required=False, help_text=_("Groupe statistique.")
    )
    volet1 = serializers.ChoiceField(
        choices=Volet1Level.choices, required=False, help_text=_("Statut Volet 1.")
    )
    applied = serializers.BooleanField(
        required=False,
        help_text=_(
            "true : couverte par une candidature déposée (ni brouillon ni retirée) ; "
            "false : couverte par aucune. Avec `call`, dans cet appel seulement."
        ),
    )
    call = _call_field(_("Code de l'appel, par exemple D2-2025 (pour `applied`)."))


class ApplicationFilters(serializers.Serializer):
    call = _call_field(_("Code de l'appel, par exemple D2-2025."))
    status = serializers.ChoiceField(
        choices=Application.Status.choices, required=False, help_text=_("État de la candidature.")
    )
    region = _region_field(_("Code INSEE de la région du candidat."))
    department = _department_field(_("Code du département du candidat."))


# --- Legal entities ------------------------------------------------------------------------


class Volet1Serializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=Volet1Level.choices)
    level_label = serializers.CharField()
    ad_audit_date = serializers.DateField(allow_null=True)
    exposure_first_scan_date = serializers.DateField(allow_null=True)
    exposure_second_scan_date = serializers.DateField(allow_null=True)
    last_scan_date = serializers.DateField(allow_null=True)


class Volet2EntrySerializer(serializers.Serializer):
    call = serializers.CharField(help_text=_("Code de l'appel."))
    application = serializers.UUIDField(help_text=_("Identifiant de la candidature."))
    reference = serializers.CharField()
    status = serializers.ChoiceField(choices=Application.Status.choices)
    status_label = serializers.CharField()
    candidate = serializers.BooleanField(
        help_text=_("true : l'entité la dépose ; false : elle est couverte par celle d'une autre.")
    )


class LegalEntitySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    finess = serializers.CharField()
    siren = serializers.CharField()
    name = serializers.CharField()
    status_group = serializers.ChoiceField(choices=StatusGroup.choices)
    statistics_group = serializers.ChoiceField(choices=StatisticsGroup.choices)
    finess_category = serializers.CharField()
    region = serializers.CharField(source="department.region.code")
    department = serializers.CharField(source="department.code")
    ght = serializers.SerializerMethodField()
    is_ght_support = serializers.BooleanField()
    staff_count = serializers.IntegerField(allow_null=True)
    active = serializers.BooleanField()
    volet1 = serializers.SerializerMethodField()
    volet2 = serializers.SerializerMethodField(
        help_text=_("Les candidatures couvrant l'entité que vous pouvez voir, par appel.")
    )

    @extend_schema_field(serializers.CharField(allow_null=True, help_text=_("Code du GHT.")))
    def get_ght(self, entity: LegalEntity) -> str | None:
        return entity.ght.code if entity.ght else None

    @extend_schema_field(Volet1Serializer)
    def get_volet1(self, entity: LegalEntity) -> dict[str, Any]:
        status = getattr(entity, "volet1", None)
        level = Volet1Level(status.level if status else Volet1Level.NONE)
        return {
            "level": level.value,
            "level_label": str(level.label),
            "ad_audit_date": status.ad_audit_date if status else None,
            "exposure_first_scan_date": status.exposure_first_scan_date if status else None,
            "exposure_second_scan_date": status.exposure_second_scan_date if status else None,
            "last_scan_date": status.last_scan_date if status else None,
        }

    @extend_schema_field(Volet2EntrySerializer(many=True))
    def get_volet2(self, entity: LegalEntity) -> list[dict[str, Any]]:
        return [
            {**entry, "status_label": str(Application.Status(entry["status"]).label)}
            for entry in self.context["volet2"].get(entity.pk, [])
        ]


# --- Applications --------------------------------------------------------------------------


class EntityRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    finess = serializers.CharField()
    name = serializers.CharField()


class ApplicationSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    reference = serializers.CharField()
    call = serializers.CharField(source="call.code", help_text=_("Code de l'appel."))
    call_title = serializers.CharField(source="call.title")
    status = serializers.ChoiceField(choices=Application.Status.choices)
    status_label = serializers.CharField(source="get_status_display")
    candidate = EntityRefSerializer()
    region = serializers.CharField(source="candidate.department.region.code")
    department = serializers.CharField(source="candidate.department.code")
    covered = serializers.SerializerMethodField(help_text=_("FINESS des entités couvertes."))
    submitted_at = serializers.DateTimeField(allow_null=True)
    requested_amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    granted_amount = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    paid_amount = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    eligible = serializers.SerializerMethodField(
        help_text=_("Le verdict des règles d'éligibilité ; null tant qu'il n'est pas calculé.")
    )
    score = serializers.SerializerMethodField(
        help_text=_(
            "Le score de priorité (0 à 100), pour les instructeurs de la candidature "
            "seulement (l'ARS de sa région, le ministère) ; null sinon, ou tant qu'il "
            "n'est pas calculé."
        )
    )

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_covered(self, application: Application) -> list[str]:
        return sorted(c.legal_entity.finess for c in application.coverages.all())

    @extend_schema_field(serializers.BooleanField(allow_null=True))
    def get_eligible(self, application: Application) -> bool | None:
        result = getattr(application, "eligibility", None)
        return result.eligible if result else None

    @extend_schema_field(serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True))
    def get_score(self, application: Application) -> str | None:
        result = getattr(application, "eligibility", None)
        scope = self.context["request"].user.scope
        instructs = scope.national or application.candidate.department.region_id in (
            scope.region_ids
        )
        return str(result.score) if result and instructs else None


# --- Errors --------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


# A 400: {"parameter": ["what is wrong", …], …}
PARAMETER_ERRORS_SCHEMA = {
    "type": "object",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}
