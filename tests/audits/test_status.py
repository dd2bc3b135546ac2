"""Volet 1 status, and D1.O2.B at its edges (44, 45, 60 and 61 days)."""

from datetime import date, timedelta

import pytest

from audits.models import DirectoryAudit, ExposureScan, Volet1Level, Volet1Status
from audits.selectors import volet1_status
from audits.services import volet1_status_refresh
from audits.status import ScanPoint, compute_volet1_status, exposure_next_step, exposure_pair

D0 = date(2025, 3, 1)


def scans(*spec: tuple[int, bool]) -> list[ScanPoint]:
    return [ScanPoint(D0 + timedelta(days=offset), met) for offset, met in spec]


@pytest.mark.parametrize(("gap", "met"), [(44, False), (45, True), (60, True), (61, False)])
def test_exposure_objective_needs_two_scans_45_to_60_days_apart(gap, met):
    result = compute_volet1_status(ad_audit_dates=[], scans=scans((0, True), (gap, True)))
    assert result.exposure_objective_met is met
    if met:
        assert result.exposure_scan_dates == (D0, D0 + timedelta(days=gap))


def test_both_scans_must_meet_the_minimum_level():
    assert exposure_pair(scans((0, True), (50, False))) is None
    assert exposure_pair(scans((0, False), (50, True))) is None


def test_monthly_compliant_scans_in_between_keep_the_pair():
    # SILENE scans monthly: 0, 30 and 50 all compliant -> 0 and 50 qualify.
    assert exposure_pair(scans((0, True), (30, True), (50, True))) == (
        D0,
        D0 + timedelta(days=50),
    )
    # Two monthly scans only 30 days apart do not.
    assert exposure_pair(scans((0, True), (30, True))) is None


def test_a_failing_scan_in_between_breaks_the_pair():
    assert exposure_pair(scans((0, True), (20, False), (50, True))) is None
    # The run restarts after the failing scan.
    assert exposure_pair(scans((0, True), (20, False), (25, True), (75, True))) == (
        D0 + timedelta(days=25),
        D0 + timedelta(days=75),
    )


def test_the_latest_qualifying_pair_is_reported():
    pair = exposure_pair(scans((0, True), (50, True), (100, True), (150, True)))
    assert pair == (D0 + timedelta(days=100), D0 + timedelta(days=150))


def test_order_of_input_does_not_matter():
    assert exposure_pair(list(reversed(scans((0, True), (45, True))))) == (
        D0,
        D0 + timedelta(days=45),
    )


@pytest.mark.parametrize(
    ("audits", "scan_spec", "level"),
    [
        ([], [], Volet1Level.NONE),
        ([D0], [], Volet1Level.AD_DONE),
        ([], [(0, True), (50, True)], Volet1Level.EXPOSURE_MET),
        ([D0, D0 + timedelta(days=300)], [(0, True), (50, True)], Volet1Level.BOTH),
    ],
)
def test_levels(audits, scan_spec, level):
    result = compute_volet1_status(ad_audit_dates=audits, scans=scans(*scan_spec))
    assert result.level == level
    assert result["ad_audit_done"] is bool(audits)
    if audits:
        assert result.ad_audit_date == max(audits)


def test_next_step_tells_what_is_missing():
    today = D0 + timedelta(days=10)
    assert "Aucun scan" in exposure_next_step([], today)
    assert "n'atteint pas" in exposure_next_step(scans((0, False)), today)
    step = exposure_next_step(scans((0, True)), today)
    assert "15/04/2025" in step and "30/04/2025" in step  # D0 + 45 and D0 + 60
    assert "plus de 60 jours" in exposure_next_step(scans((0, True)), D0 + timedelta(days=90))
    assert exposure_next_step(scans((0, True), (50, True)), today) == "Objectif atteint."


def test_selector_and_stored_status_agree(hospital, other_hospital):
    DirectoryAudit.objects.create(
        legal_entity=hospital, audit_date=D0, tool="pingcastle", domain="ch.local", global_score=40
    )
    for offset in (0, 52):
        ExposureScan.objects.create(
            legal_entity=hospital, scan_date=D0 + timedelta(days=offset), minimum_level_met=True
        )
    result = volet1_status(hospital)
    assert result.ad_audit_done and result.exposure_objective_met
    assert volet1_status(other_hospital).level == Volet1Level.NONE

    assert volet1_status_refresh(legal_entity_ids=[hospital.id, other_hospital.id]) == 2
    stored = Volet1Status.objects.get(legal_entity=hospital)
    assert stored.level == Volet1Level.BOTH
    assert stored.exposure_second_scan_date == D0 + timedelta(days=52)
    # Refreshing again changes nothing.
    assert volet1_status_refresh(legal_entity_ids=[hospital.id, other_hospital.id]) == 0
