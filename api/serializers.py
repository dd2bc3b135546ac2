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
from monitoring import selectors

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
            "true : couverte par une candidature déposée et non retirée (ni brouillon ni "
            "retirée ; la candidature d'un GHT couvre ses membres), comme les tableaux de "
            "bord de suivi la comptent ; false : couverte par aucune. Avec `call`, dans cet "
            "appel seulement."
        ),
    )
    eligible = serializers.BooleanField(
        required=False,
        help_text=_(
            "true : éligible à l'appel `call` (le dénominateur des tableaux de bord : "
            "établissement de santé actif d'un groupe statistique admis par l'appel) ; "
            "false : non éligible. Exige `call`."
        ),
    )
    call = _call_field(
        _("Code de l'appel, par exemple D2-2025 (pour `applied` ; obligatoire avec `eligible`).")
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("eligible") is not None and data.get("call") is None:
            raise serializers.ValidationError(
                {"call": [_("Obligatoire avec `eligible` : l'éligibilité dépend de l'appel.")]}
            )
        return data


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


# --- Participation ---------------------------------------------------------------------


SCOPE_CHOICES = [
    (selectors.NATION, _("la France entière")),
    (selectors.REGION, _("une région (code : son code INSEE)")),
    (selectors.DEPARTEMENT, _("un département (code : son code)")),
]
REGION_CODE_SET = {code for code, _name in REGION_CODES}
DEPARTMENT_CODE_SET = {code for code, _name in DEPARTMENT_CODES}


class ParticipationParameters(serializers.Serializer):
    scope = serializers.ChoiceField(
        choices=SCOPE_CHOICES, help_text=_("Le lieu des chiffres : nation, region ou departement.")
    )
    code = serializers.CharField(
        required=False,
        max_length=3,
        help_text=_(
            "Code INSEE de la région (scope=region, par exemple 84) ou code du département "
            "(scope=departement, par exemple 69 ou 2A) ; absent pour scope=nation."
        ),
    )
    call = serializers.SlugRelatedField(
        slug_field="code",
        queryset=FundingCall.objects.all(),
        help_text=_("Code de l'appel, par exemple D2-2025."),
        error_messages={"does_not_exist": _("Appel inconnu : {value}.")},
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        scope, code = data["scope"], data.get("code")
        if scope == selectors.NATION:
            if code is not None:
                raise serializers.ValidationError(
                    {"code": [_("Pas de code pour scope=nation : la France entière.")]}
                )
            return data
        known = REGION_CODE_SET if scope == selectors.REGION else DEPARTMENT_CODE_SET
        if code is None:
            raise serializers.ValidationError(
                {"code": [_("Obligatoire pour scope=%(scope)s.") % {"scope": scope}]}
            )
        if code not in known:
            message = (
                _("Région inconnue : %(code)s (un code INSEE de région, par exemple 84).")
                if scope == selectors.REGION
                else _("Département inconnu : %(code)s (par exemple 69 ou 2A).")
            )
            raise serializers.ValidationError({"code": [message % {"code": code}]})
        return data


def _count(help_text: Any) -> serializers.IntegerField:
    return serializers.IntegerField(help_text=help_text)


def _euros(help_text: Any, **kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=None, decimal_places=2, help_text=help_text, **kwargs
    )


def _rate(help_text: Any, **kwargs: Any) -> serializers.FloatField:
    return serializers.FloatField(allow_null=True, help_text=help_text, **kwargs)


# One count per status of the lifecycle, zeros included (the classes' docstrings would
# be the schema's descriptions: comments here).
class ApplicationsByStatusSerializer(serializers.Serializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            status.value: serializers.IntegerField(help_text=str(status.label))
            for status in Application.Status
        }


# The figures of a place (or of one row of a breakdown) for a call, as the monitoring
# dashboards compute them (monitoring.selectors).
class FiguresSerializer(serializers.Serializer):
    # Legal entities (EJ) located in the place.
    eligible = _count(
        _(
            "Entités juridiques éligibles, le dénominateur des taux : établissements de santé "
            "actifs (catégorie FINESS retenue par la règle E1 de l'appel) d'un groupe "
            "statistique admis par l'appel, situés dans le lieu."
        )
    )
    volet1_audited = _count(
        _(
            "Entités éligibles ayant au moins un audit Active Directory ou un scan "
            "d'exposition enregistré."
        )
    )
    volet1_objectives_met = _count(
        _("Entités éligibles ayant atteint les deux objectifs du Volet 1.")
    )
    applied = _count(
        _(
            "Entités éligibles couvertes par une candidature à l'appel déposée et non retirée "
            "(un brouillon ne compte pas) ; la candidature d'un GHT couvre chacun de ses "
            "membres."
        )
    )
    scored = _count(_("Entités candidates dont la candidature a été évaluée (règles E1 à E7)."))
    found_eligible = _count(_("Entités candidates dont la candidature est jugée éligible."))
    approved = _count(
        _("Entités dont la candidature est accordée (accordée, en suivi des objectifs ou payée).")
    )
    paid = _count(_("Entités dont la candidature est payée (solde versé)."))
    # Applications whose candidate is located in the place.
    applications = _count(
        _(
            "Candidatures déposées au moins une fois (retirées comprises, brouillons exclus) "
            "dont le candidat est situé dans le lieu."
        )
    )
    applications_by_status = serializers.SerializerMethodField(
        help_text=_("Ces candidatures par état (zéro compris).")
    )
    applications_scored = _count(_("Candidatures évaluées par les règles d'éligibilité."))
    applications_eligible = _count(_("Candidatures jugées éligibles par les règles."))
    applications_approved = _count(
        _("Candidatures accordées (accordées, en suivi des objectifs ou payées).")
    )
    applications_decided = _count(_("Candidatures décidées (accordées ou refusées)."))
    amount_requested = _euros(
        _("Somme des montants demandés par les candidatures déposées et non retirées, en euros.")
    )
    amount_granted = _euros(_("Somme des montants accordés aux candidatures accordées, en euros."))
    amount_paid = _euros(_("Somme des paiements enregistrés (avances et soldes), en euros."))
    payments = _count(_("Nombre de paiements enregistrés."))
    decisions = _count(
        _(
            "Candidatures ayant reçu une décision du ministère (accord ou refus) après un "
            "dépôt : la base du délai médian."
        )
    )
    median_days_to_decision = serializers.FloatField(
        allow_null=True,
        help_text=_(
            "Médiane, sur ces candidatures, du nombre de jours entre le premier dépôt et la "
            "première décision du ministère ; null sans décision."
        ),
    )
    # Rates: a share between 0 and 1, null when the denominator is zero.
    application_rate = _rate(
        _("Taux de candidature = applied ÷ eligible, entre 0 et 1 ; null si eligible vaut 0.")
    )
    volet1_rate = _rate(
        _("Taux de participation au Volet 1 = volet1_audited ÷ eligible ; null si eligible vaut 0.")
    )
    volet1_objectives_rate = _rate(
        _(
            "Taux d'atteinte des objectifs du Volet 1 = volet1_objectives_met ÷ eligible ; "
            "null si eligible vaut 0."
        )
    )
    eligibility_rate = _rate(
        _(
            "Taux d'éligibilité = applications_eligible ÷ applications_scored ; null si aucune "
            "candidature n'est évaluée."
        )
    )
    approval_rate = _rate(
        _(
            "Taux d'accord = applications_approved ÷ applications_decided ; null si aucune "
            "candidature n'est décidée."
        )
    )
    paid_share = _rate(_("Part payée = amount_paid ÷ amount_granted ; null si rien n'est accordé."))

    @extend_schema_field(ApplicationsByStatusSerializer)
    def get_applications_by_status(self, figures: selectors.Figures) -> dict[str, int]:
        return {status: figures.status_count(status) for status in Application.Status.values}


class GroupRowSerializer(serializers.Serializer):
    statistics_group = serializers.ChoiceField(
        source="key", choices=StatisticsGroup.choices, help_text=_("Groupe statistique.")
    )
    label = serializers.CharField()
    figures = FiguresSerializer()


class DepartmentRowSerializer(serializers.Serializer):
    department = serializers.CharField(source="key", help_text=_("Code du département."))
    name = serializers.CharField(source="label")
    figures = FiguresSerializer()


class ParticipationSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(source="participation.scope", choices=SCOPE_CHOICES)
    code = serializers.CharField(
        source="participation.code",
        allow_null=True,
        help_text=_("Code de la région ou du département ; null pour la nation."),
    )
    name = serializers.CharField(source="participation.name")
    call = serializers.CharField(source="participation.call_code", help_text=_("Code de l'appel."))
    envelope = _euros(
        _("Enveloppe nationale de l'appel, en euros (chaque lieu y est rapporté)."),
        source="participation.envelope",
    )
    requested_share_of_envelope = _rate(
        _("amount_requested ÷ envelope ; null si l'enveloppe est nulle."),
        source="participation.requested_share_of_envelope",
    )
    granted_share_of_envelope = _rate(
        _("amount_granted ÷ envelope ; null si l'enveloppe est nulle."),
        source="participation.granted_share_of_envelope",
    )
    paid_share_of_envelope = _rate(
        _("amount_paid ÷ envelope ; null si l'enveloppe est nulle."),
        source="participation.paid_share_of_envelope",
    )
    figures = FiguresSerializer(source="participation")
    by_statistics_group = GroupRowSerializer(
        source="by_group",
        many=True,
        help_text=_(
            "Les mêmes chiffres par groupe statistique : GHT, public hors GHT, EBNL, privé "
            "lucratif."
        ),
    )
    by_department = DepartmentRowSerializer(
        many=True,
        help_text=_(
            "Les mêmes chiffres par département du lieu (tous ceux de la nation ou de la "
            "région, zéros compris) ; vide pour un département."
        ),
    )


# --- Errors --------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


# A 400: {"parameter": ["what is wrong", …], …}
PARAMETER_ERRORS_SCHEMA = {
    "type": "object",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}
