"""French identifiers of health establishments: FINESS, SIREN and SIRET.

FINESS: 9 characters, the first two the département (2A/2B for Corsica, 97 for
the overseas départements and collectivities, 98 for Mayotte: see
reference.finess_prefix_for_department); the last one a Luhn check digit
computed after replacing 2A by 21 and 2B by 22 (DOMAIN.md: real numbers 010003820
and 010003812 pass it).
SIREN and SIRET use python-stdnum (Luhn, with La Poste's SIRET exception).
"""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum import luhn
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret

_FINESS_SHAPE = re.compile(r"^(?:\d{2}|2A|2B)\d{7}$")
# Metropolitan départements 01-95 (20 became 2A/2B), overseas 97 and Mayotte 98.
_FINESS_PREFIXES = {f"{n:02d}" for n in range(1, 96) if n != 20} | {"2A", "2B", "97", "98"}


def compact(value: str) -> str:
    """Remove the spaces, dots and dashes people type inside identifiers."""
    return re.sub(r"[\s.\-]", "", value or "").upper()


def finess_error(value: str) -> str | None:
    """Return why a FINESS number is invalid (French), or None when it is valid."""
    number = compact(value)
    if len(number) != 9:
        return str(_("Un numéro FINESS compte 9 caractères (%(n)d donnés).") % {"n": len(number)})
    if not _FINESS_SHAPE.match(number):
        return str(_("Un numéro FINESS ne contient que des chiffres, sauf 2A ou 2B pour la Corse."))
    if number[:2] not in _FINESS_PREFIXES:
        return str(
            _(
                "Le numéro FINESS doit commencer par un code de département (« %(prefix)s » "
                "n'en est pas un)."
            )
            % {"prefix": number[:2]}
        )
    digits = number.replace("2A", "21", 1) if number.startswith("2A") else number
    digits = digits.replace("2B", "22", 1) if digits.startswith("2B") else digits
    if not luhn.is_valid(digits):
        return str(_("La clé de contrôle du numéro FINESS est incorrecte (chiffre final)."))
    return None


def is_valid_finess(value: str) -> bool:
    return finess_error(value) is None


def is_valid_siren(value: str) -> bool:
    return bool(stdnum_siren.is_valid(compact(value)))


def is_valid_siret(value: str) -> bool:
    return bool(stdnum_siret.is_valid(compact(value)))


def siren_error(value: str) -> str | None:
    number = compact(value)
    try:
        stdnum_siren.validate(number)
    except StdnumError:
        if not number.isdigit() or len(number) != 9:
            return str(_("Un numéro SIREN compte 9 chiffres."))
        return str(_("La clé de contrôle du numéro SIREN est incorrecte."))
    return None


def siret_error(value: str) -> str | None:
    number = compact(value)
    try:
        stdnum_siret.validate(number)
    except StdnumError:
        if not number.isdigit() or len(number) != 14:
            return str(_("Un numéro SIRET compte 14 chiffres."))
        return str(_("La clé de contrôle du numéro SIRET est incorrecte."))
    return None


def format_finess(value: str) -> str:
    """Display form NN NNN NNN N."""
    n = compact(value)
    return f"{n[:2]} {n[2:5]} {n[5:8]} {n[8:]}" if len(n) == 9 else value


def finess_with_check_digit(first_eight: str) -> str:
    """Complete 8 characters into a valid FINESS (used to make demo data)."""
    digits = first_eight.replace("2A", "21", 1) if first_eight.startswith("2A") else first_eight
    digits = digits.replace("2B", "22", 1) if digits.startswith("2B") else digits
    return first_eight + luhn.calc_check_digit(digits)


def validate_finess(value: str) -> None:
    error = finess_error(value)
    if error:
        raise ValidationError(error, code="invalid_finess")


def validate_siren(value: str) -> None:
    error = siren_error(value)
    if error:
        raise ValidationError(error, code="invalid_siren")


def validate_siret(value: str) -> None:
    error = siret_error(value)
    if error:
        raise ValidationError(error, code="invalid_siret")
