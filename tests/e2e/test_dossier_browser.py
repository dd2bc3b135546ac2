"""No dossier stuck pending, in Chromium: in the embedded default (tasks run in process,
no scheduler), a seeded dossier left pending becomes available on its application's
page, which follows its state by itself instead of asking for a reload. Checked with
axe."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from applications.models import Dossier

from ..applications.test_pdf import make_dossier_application
from .conftest import assert_accessible, log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_seeded_dossier_becomes_available_without_a_reload(page, axe, hospital, hospital_user):
    # Scored (and, tasks running in process, rendered); then put back as the demo
    # seeds it: a row left pending days ago, that nobody queued.
    application = make_dossier_application(hospital, requirements=2, members=0)
    dossier = Dossier.objects.get(application=application, kind="dossier", version=1)
    Dossier.objects.filter(pk=dossier.pk).update(
        status=Dossier.Status.PENDING, file="", sha256="", pages=None, size=None,
        generated_at=None, updated_at=timezone.now() - timedelta(days=3),
    )  # fmt: skip
    log_in(page, hospital_user.email)
    loads = []
    page.on("load", lambda _page: loads.append(1))
    page.goto(f"/candidatures/{application.public_id}/")
    section = page.locator("#dossiers")
    expect(section.get_by_role("heading", name="Dossier PDF", level=2)).to_be_visible()
    link = section.get_by_role(
        "link", name=re.compile(rf"^Dossier de candidature {application.reference}, version 1")
    )
    expect(link).to_be_visible(timeout=30_000)  # rendered by the page's own poll
    expect(section.get_by_text("Disponible", exact=True)).to_be_visible()
    expect(page.locator("#dossiers-live")).to_have_text("Les PDF de la candidature sont à jour.")
    assert len(loads) == 1, "the page was reloaded"
    dossier.refresh_from_db()
    assert dossier.status == Dossier.Status.DONE and dossier.pages >= 1
    assert_accessible(axe, page)
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename.endswith("-dossier-v1.pdf")
