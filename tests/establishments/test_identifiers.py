import pytest
from django.core.exceptions import ValidationError

from establishments.identifiers import (
    finess_error,
    finess_with_check_digit,
    format_finess,
    is_valid_finess,
    is_valid_siren,
    is_valid_siret,
    validate_finess,
    validate_siren,
    validate_siret,
)


@pytest.mark.parametrize(
    "value",
    [
        "010003820",  # real ET (DOMAIN.md)
        "010003812",  # real EJ (DOMAIN.md)
        "01 000 382 0",  # typed with spaces
        finess_with_check_digit("2A000001"),
        finess_with_check_digit("2B000123"),
        finess_with_check_digit("97012345"),
        finess_with_check_digit("98050001"),  # Mayotte
        finess_with_check_digit("97500001"),  # Saint-Pierre-et-Miquelon
    ],
)
def test_valid_finess_numbers_pass(value):
    assert is_valid_finess(value)
    validate_finess(value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("010003821", "clé de contrôle"),
        ("01000382", "9 caractères"),
        ("0100038200", "9 caractères"),
        ("", "9 caractères"),
        ("01000382X", "que des chiffres"),
        ("2C0000010", "que des chiffres"),
        ("200000010", "code de département"),
        ("960000012", "code de département"),
        ("000000000", "code de département"),
    ],
)
def test_invalid_finess_numbers_fail_with_a_french_reason(value, reason):
    assert not is_valid_finess(value)
    assert reason in finess_error(value)
    with pytest.raises(ValidationError):
        validate_finess(value)


def test_corsica_finess_check_digit_replaces_2a_by_21_and_2b_by_22():
    # The same digits with 21/22 in place of 2A/2B share the check digit.
    corse_sud = finess_with_check_digit("2A000001")
    assert corse_sud[-1] == finess_with_check_digit("21000001")[-1]
    haute_corse = finess_with_check_digit("2B000001")
    assert haute_corse[-1] == finess_with_check_digit("22000001")[-1]
    # A wrong key on a Corsican number is refused.
    wrong = corse_sud[:-1] + str((int(corse_sud[-1]) + 1) % 10)
    assert not is_valid_finess(wrong)
    assert is_valid_finess(corse_sud.lower())


def test_finess_display_groups_digits():
    assert format_finess("010003820") == "01 000 382 0"


@pytest.mark.parametrize("value", ["732829320", "356000000", "552 100 554"])
def test_valid_siren(value):
    assert is_valid_siren(value)
    validate_siren(value)


@pytest.mark.parametrize("value", ["732829321", "12345678", "ABCDEFGHI", ""])
def test_invalid_siren(value):
    assert not is_valid_siren(value)
    with pytest.raises(ValidationError):
        validate_siren(value)


@pytest.mark.parametrize("value", ["73282932000074", "35600000000048", "35600000049837"])
def test_valid_siret_including_la_poste(value):
    assert is_valid_siret(value)
    validate_siret(value)


@pytest.mark.parametrize("value", ["73282932000075", "7328293200007", "35600000049838", "ABC"])
def test_invalid_siret(value):
    assert not is_valid_siret(value)
    with pytest.raises(ValidationError) as excinfo:
        validate_siret(value)
    assert "SIRET" in excinfo.value.messages[0]


@pytest.mark.parametrize(
    ("department", "prefix"),
    [
        ("01", "01"),
        ("2A", "2A"),
        ("2B", "2B"),
        ("69", "69"),
        ("971", "97"),
        ("972", "97"),
        ("973", "97"),
        ("974", "97"),
        ("975", "97"),
        ("976", "98"),
    ],
)
def test_finess_prefix_of_every_territory_makes_valid_numbers(department, prefix):
    from establishments.reference import finess_prefix_for_department

    assert finess_prefix_for_department(department) == prefix
    number = finess_with_check_digit(f"{prefix}{123456:06d}")
    assert is_valid_finess(number), number


@pytest.mark.parametrize(
    ("code", "insee"),
    [("9A", "971"), ("9B", "972"), ("9C", "973"), ("9D", "974"), ("9E", "975"), ("9F", "976")],
)
def test_finess_extract_overseas_department_codes(code, insee):
    from establishments.reference import department_code_from_finess_extract

    assert department_code_from_finess_extract(code) == insee
    assert department_code_from_finess_extract("2A") == "2A"
    assert department_code_from_finess_extract("01") == "01"
