"""One end-to-end journey across all roles, in Chromium, against the live server with a
real Celery worker (`make journey`; also part of `make test`).

An establishment files an application with a PDF as evidence; the worker scores it and
renders its dossier, which the page shows by itself; the ARS agent of its region takes
it from the instruction queue, gives a favourable opinion and sends it to the ministry;
a ministry user approves it in the admin above the call's co-signature threshold and a
second ministry user co-signs; the worker renders the decision letter, which the
establishment downloads; the establishment declares its objective with a PDF, the ARS
checks it, the ministry validates the objectives and records the payment in the admin;
the regional dashboard shows the approval and the amount paid.

Only the call, its requirements, the personas and the Volet 1 results are seeded: every
act of the journey goes through the pages. axe checks every page visited (no serious or
critical violation). Each step leaves a screenshot in `journey-screenshots/` (or
$CARE_JOURNEY_SCREENSHOTS), kept when the journey fails and named in the failure."""

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pikepdf
import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from applications.lifecycle import Status
from applications.models import (
    Application,
    CoSignature,
    Dossier,
    EligibilityResult,
    Evidence,
    Payment,
)

from ..applications.test_eligibility import volet1
from ..factories import ministry_agent
from ..worker import ROOT, celery_worker
from .conftest import assert_accessible, expect_status, follow_menu_link
from .drafts import CONTINUITY_PLAN, CRISIS_EXERCISE, fill_identity, open_call

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

REQUESTED = Decimal("250000")
GRANTED = Decimal("200000")  # what the ARS proposes and the ministry grants
CO_SIGNATURE_ABOVE = Decimal("150000")  # four-eyes: GRANTED needs a second signature
# The worker scores the submission and renders two PDFs; the page polls with a backoff.
WORKER_TIMEOUT = 90_000  # ms
DETAIL_URL = re.compile(r"/candidatures/[0-9a-f-]{36}/(#.*)?$")
SCREENSHOTS = Path(os.environ.get("CARE_JOURNEY_SCREENSHOTS") or ROOT / "journey-screenshots")


def french_amount(value: Decimal, cents: bool = True) -> str:
    """A regular expression of an amount as the pages and PDFs write it in French:
    200000 -> "200 000,00" (any space: they use no-break ones)."""
    whole, decimals = f"{value:,.2f}".split(".")
    return whole.replace(",", r"\s") + ("," + decimals if cents else "")


def pdf_with_text(path: Path, text: str) -> Path:
    """A small real PDF: one A4 page with a line of text."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont="/Helvetica"
        )
    )
    content = f"BT /F1 14 Tf 72 770 Td ({text}) Tj ET".encode("latin-1")
    pdf.pages.append(
        pikepdf.Page(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Page,
                MediaBox=[0, 0, 595, 842],
                Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
                Contents=pdf.make_stream(content),
            )
        )
    )
    pdf.save(path)
    return path


class Journey:
    """The browser side of the journey: one browser context per person (each logs in
    once and keeps its session), axe on every page, a screenshot after each step."""

    def __init__(self, browser, base_url: str, axe, folder: Path) -> None:
        self.browser, self.base_url, self.axe, self.folder = browser, base_url, axe, folder
        self.pages: dict[str, Page] = {}
        self.steps = 0
        self.failed = False

    def page_of(self, user) -> Page:
        """The page of `user`'s own browser context, logged in through the login form."""
        if user.email not in self.pages:
            context = self.browser.new_context(base_url=self.base_url, locale="fr-FR")
            page = self.pages[user.email] = context.new_page()  # shot if the login fails
            page.set_default_timeout(15_000)
            page.goto("/accounts/login/")
            self.check(page)
            page.get_by_label("Adresse électronique").fill(user.email)
            page.get_by_label("Mot de passe").fill("correct-horse-battery")
            page.locator("main").get_by_role("button", name="Se connecter").click()
            page.wait_for_url("**/")
            self.check(page)
        return self.pages[user.email]

    def check(self, page: Page) -> None:
        assert_accessible(self.axe, page)

    def open_from_queue(self, page: Page, tab: str, reference: str) -> None:
        """Opens the application `reference` from the table of the instruction queue's
        tab `tab`; both pages are checked."""
        table = page.get_by_role("table", name=f"File d'instruction : {tab}")
        self.check(page)
        table.get_by_role("link", name=reference, exact=True).click()
        page.wait_for_url(re.compile(r"/instruction/[0-9a-f-]{36}/(#.*)?$"))
        self.check(page)

    def admin_action(
        self, page: Page, changelist: str, reference: str, *, status: str, action: str
    ) -> None:
        """Runs an admin action on one application, ticked in the admin list `changelist`
        where its row shows `status`."""
        page.goto(changelist)
        row = page.get_by_role("row", name=re.compile(re.escape(reference)))
        expect(row).to_contain_text(status)
        self.check(page)
        row.get_by_role("checkbox").check()
        page.locator("select[name=action]").select_option(label=action)
        page.get_by_role("button", name="Envoyer").click()

    @contextmanager
    def step(self, title: str, *, user) -> Iterator[Page]:
        """A step of the journey by `user` (logged in on first use): yields their page;
        its screenshot is taken at the end of the step, or where it failed (the failure
        then names the folder of the screenshots)."""
        self.steps += 1
        name = f"{self.steps:02d}-{re.sub(r'[^a-z0-9]+', '-', title.lower()).strip('-')}"
        try:
            yield self.page_of(user)
        except BaseException as error:
            self.failed = True
            self._shoot(self.pages.get(user.email), f"{name}-FAILED")
            error.add_note(
                f"The journey failed at step {self.steps} ({title}); the screenshots of each "
                f"step are kept in {self.folder}"
            )
            raise
        self._shoot(self.pages[user.email], name)

    def _shoot(self, page: Page | None, name: str) -> None:
        if page is None:
            return
        try:
            page.screenshot(path=self.folder / f"{name}.png", full_page=True)
        except Exception as error:  # a closed page must not hide the failure itself
            (self.folder / f"{name}.txt").write_text(f"No screenshot: {error}\n")


@pytest.fixture
def journey(browser, live_server, axe):
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    journey = Journey(browser, live_server.url, axe, SCREENSHOTS)
    yield journey
    for page in journey.pages.values():
        page.context.close()
    if not journey.failed:
        shutil.rmtree(SCREENSHOTS, ignore_errors=True)


@pytest.fixture
def call(db):
    """An open D2 call: a prerequisite whose evidence comes with the application, an
    objective whose evidence comes with the declaration, a ceiling, four-eyes above
    150 000 €, the whole grant paid once the objectives are validated."""
    return open_call(
        CONTINUITY_PLAN,
        CRISIS_EXERCISE,
        code="D2-PARCOURS",
        title="Continuité et reprise d'activité (parcours)",
        second_approval_above=CO_SIGNATURE_ABOVE,
        objectives_deadline=timezone.localdate() + timedelta(days=90),
        advance_rate=Decimal("0"),
    )


@pytest.fixture
def second_ministry_user(db):
    return ministry_agent(email="franck@sante.gouv.test", full_name="Franck Moreau")


def test_journey_from_application_to_payment(
    journey,
    celery_broker,
    tmp_path,
    call,
    hospital,
    hospital_user,
    ars_user,
    ministry_user,
    second_ministry_user,
):
    volet1(hospital)  # Volet 1 reached: the application will be found eligible
    plan = pdf_with_text(tmp_path / "plan-de-continuite.pdf", "Plan de continuite signe")
    exercise = pdf_with_text(tmp_path / "compte-rendu-exercice.pdf", "Exercice de crise cyber")
    granted = french_amount(GRANTED)  # as a regular expression

    with celery_worker(queues="default,pdf"):
        # 1. The establishment files its application with its evidence.
        with journey.step("establishment starts an application", user=hospital_user) as page:
            follow_menu_link(page, "Mes candidatures", "/candidatures/")
            journey.check(page)
            page.get_by_role(
                "button", name=f"Commencer ma candidature pour {hospital.name}"
            ).click()
            page.wait_for_url(DETAIL_URL)
            application = Application.objects.get(call=call, candidate=hospital)
            reference = application.reference
            expect(
                page.get_by_role("heading", name=f"Candidature {reference}", level=1)
            ).to_be_visible()
            journey.check(page)

        with journey.step("establishment fills its identity", user=hospital_user) as page:
            page.get_by_role("link", name="Compléter la candidature").click()
            expect(
                page.get_by_role("heading", name="Identité et contacts Étape 1 sur 4")
            ).to_be_visible()
            journey.check(page)
            fill_identity(page)
            page.get_by_role("button", name="Enregistrer et continuer").click()
            page.wait_for_url(re.compile(r"/reponses/(#.*)?$"))
            expect(
                page.get_by_role("heading", name="Réponses aux exigences Étape 2 sur 4")
            ).to_be_visible()
            journey.check(page)

        with journey.step(
            "establishment answers with a PDF as evidence", user=hospital_user
        ) as page:
            page.get_by_label("Ajouter une pièce pour D2.P1").set_input_files(plan)
            page.get_by_role("button", name="Envoyer la pièce pour D2.P1").click()
            expect_status(page, "Pièce « plan-de-continuite.pdf » ajoutée pour D2.P1.")
            journey.check(page)
            for identifier in ("D2.P1", "D2.O1"):
                fieldset = page.locator("#answers-form fieldset.fr-fieldset").filter(
                    has=page.locator("legend", has_text=identifier)
                )
                fieldset.get_by_text("Atteint", exact=True).click()  # DSFR: the label
                expect(fieldset.get_by_role("radio", name="Atteint", exact=True)).to_be_checked()
            page.get_by_role("button", name="Enregistrer et continuer").click()
            page.wait_for_url(re.compile(r"/budget/(#.*)?$"))
            journey.check(page)

        with journey.step("establishment budgets and submits", user=hospital_user) as page:
            page.get_by_label("Catégorie (ligne 1)").select_option(
                label="Matériel (sauvegardes, stockage)"
            )
            page.get_by_label("Description (ligne 1)").fill("Baie de sauvegarde hors ligne")
            page.get_by_label("Montant HT (€) (ligne 1)").fill(str(REQUESTED))
            page.get_by_role("button", name="Enregistrer et continuer").click()
            page.wait_for_url(re.compile(r"/depot/(#.*)?$"))
            expect(
                page.get_by_text(
                    "Avec les données actuelles, votre candidature serait jugée éligible."
                )
            ).to_be_visible()
            journey.check(page)
            page.get_by_text("Je certifie sur l'honneur l'exactitude des informations").click()
            page.get_by_role("button", name="Déposer la candidature").click()
            page.wait_for_url(DETAIL_URL)
            expect_status(page, f"Votre candidature {reference} a été déposée")
            journey.check(page)

        # 2. The worker scores it and renders the dossier; the page follows by itself.
        with journey.step("worker scores and renders the dossier", user=hospital_user) as page:
            dossier_link = page.locator("#dossiers").get_by_role(
                "link", name=re.compile(rf"^Dossier de candidature {reference}, version 1")
            )
            expect(dossier_link).to_be_visible(timeout=WORKER_TIMEOUT)
            expect(page.locator("main p .fr-badge").first).to_have_text(
                str(Status.REGIONAL_REVIEW.label)
            )
            journey.check(page)
            assert EligibilityResult.objects.get(application=application).eligible
            application.refresh_from_db()
            assert application.requested_amount == REQUESTED
            assert application.evidence.get().original_name == plan.name

        # 3. The ARS agent of the region instructs it and sends it to the ministry.
        with journey.step("ARS takes the application from the queue", user=ars_user) as page:
            follow_menu_link(page, "File d'instruction", "/instruction/")
            journey.open_from_queue(page, "À instruire", reference)
            page.get_by_role("button", name="Je prends cette candidature").click()
            expect(page.locator("#assignment")).to_contain_text(ars_user.full_name)
            journey.check(page)

        with journey.step(
            "ARS gives its opinion and sends it to the ministry", user=ars_user
        ) as page:
            form = page.locator("#opinion form")
            form.get_by_text("Favorable", exact=True).click()
            form.get_by_label("Motivation de l'avis").fill(
                "Plan de continuité complet ; sauvegardes hors ligne prévues."
            )
            form.get_by_label("Montant proposé (€)").fill(str(GRANTED))
            form.get_by_role("button", name="Envoyer l'avis au ministère").click()
            expect_status(page, "est envoyée au ministère")
            expect(page.locator("main .fr-badge").first).to_have_text(
                str(Status.NATIONAL_REVIEW.label)
            )
            journey.check(page)

        # 4. A ministry user approves it in the admin; above the threshold, a second one
        # co-signs.
        with journey.step("ministry approves in the admin", user=ministry_user) as page:
            journey.admin_action(
                page,
                "/admin/applications/application/",
                reference,
                status="Instruction nationale",
                action="Accorder un financement…",
            )
            expect(page.get_by_role("heading", level=1)).to_have_text("Accorder un financement")
            amount = page.get_by_label(f"Montant accordé à {reference} (€)")
            expect(amount).to_have_value(f"{GRANTED}.00")  # the ARS proposal
            journey.check(page)
            page.get_by_role("button", name=re.compile("^Confirmer")).click()
            report = page.get_by_role("table", name="Compte rendu, candidature par candidature")
            expect(report.get_by_role("row", name=re.compile(reference))).to_contain_text(
                "En attente de co-signature"
            )
            journey.check(page)
            assert Application.objects.get(pk=application.pk).status == Status.NATIONAL_REVIEW

        with journey.step("a second ministry user co-signs", user=second_ministry_user) as page:
            page.goto("/admin/applications/cosignature/")
            journey.check(page)
            page.get_by_role("link", name=f"Approuver {reference}").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Accorder un financement")
            expect(page.get_by_label(f"Montant accordé à {reference} (€)")).to_have_value(
                f"{GRANTED}.00"
            )
            expect(page.get_by_text("Co-signature en attente de ce montant")).to_be_visible()
            journey.check(page)
            page.get_by_role("button", name=re.compile("^Confirmer")).click()
            report = page.get_by_role("table", name="Compte rendu, candidature par candidature")
            row = report.get_by_role("row", name=re.compile(reference))
            expect(row).to_contain_text("Effectuée")
            expect(row).to_contain_text(re.compile(rf"Accordée : {granted}\s€"))
            journey.check(page)
        signature = CoSignature.objects.get(application=application)
        assert (signature.requested_by, signature.signed_by, signature.state) == (
            ministry_user,
            second_ministry_user,
            CoSignature.State.SIGNED,
        )

        # 5. The establishment downloads the decision letter rendered by the worker.
        with journey.step(
            "establishment downloads the decision letter", user=hospital_user
        ) as page:
            page.goto(f"/candidatures/{application.public_id}/")
            expect(page.locator("main p .fr-badge").first).to_have_text(str(Status.APPROVED.label))
            letter_link = page.locator("#dossiers").get_by_role(
                "link", name=re.compile(rf"^Lettre de décision {reference}, version 1")
            )
            expect(letter_link).to_be_visible(timeout=WORKER_TIMEOUT)
            journey.check(page)
            with page.expect_download() as download:
                letter_link.click()
            letter = tmp_path / download.value.suggested_filename
            download.value.save_as(letter)
            assert letter.read_bytes()[:5] == b"%PDF-"
            text = " ".join(p.extract_text() for p in PdfReader(letter).pages)
            assert re.search(
                rf"Un financement d'un montant de\s+{granted}\s€\s+vous est accordé", text
            ), text
            assert reference in text

        # 6. Objectives: declared by the establishment, checked by the ARS, validated by
        # the ministry, which then records the payment.
        with journey.step(
            "establishment declares its objective with a PDF", user=hospital_user
        ) as page:
            page.get_by_role("link", name="Déclarer les objectifs atteints").click()
            expect(page.get_by_role("heading", name=re.compile("D2.O1"))).to_be_visible()
            journey.check(page)
            objective = call.requirements.get(identifier="D2.O1")
            section = page.locator(f"#objective-{objective.pk}")
            section.get_by_label("Ce qui a été réalisé").fill(
                "Exercice de crise cyber mené avec les équipes de soins."
            )
            section.get_by_label("Ajouter une pièce justificative").set_input_files(exercise)
            section.get_by_role("button", name="Enregistrer cet objectif").click()
            expect(page.get_by_text("Objectif D2.O1 déclaré atteint.")).to_be_visible()
            journey.check(page)
            page.locator("main").get_by_role(
                "button", name="Déclarer les objectifs atteints"
            ).click()
            expect(
                page.get_by_text("Objectifs déclarés atteints : l'ARS va les vérifier.")
            ).to_be_visible()
            journey.check(page)
        declared = Evidence.objects.get(application=application, declaration__isnull=False)
        assert (declared.original_name, declared.content_type) == (
            exercise.name,
            "application/pdf",
        )

        with journey.step("ARS checks the objectives", user=ars_user) as page:
            follow_menu_link(page, "File d'instruction", "/instruction/")
            page.get_by_role("navigation", name="Étapes de la file").get_by_role(
                "link", name=re.compile("^Objectifs à vérifier")
            ).click()
            journey.open_from_queue(page, "Objectifs à vérifier", reference)
            page.get_by_role("link", name="Vérifier les objectifs").click()
            expect(
                page.get_by_role("link", name=re.compile(re.escape(exercise.name)))
            ).to_be_visible()
            journey.check(page)
            page.locator(f"label[for='id_objective-{objective.pk}-decision_0']").click()
            page.get_by_role("button", name="Enregistrer la vérification").click()
            expect(page.get_by_text("Objectifs acceptés : transmis au ministère.")).to_be_visible()
            journey.check(page)

        with journey.step("ministry validates the objectives", user=ministry_user) as page:
            journey.admin_action(
                page,
                "/admin/applications/fundedapplication/",
                reference,
                status="Objectifs vérifiés par l'ARS",
                action="Valider les objectifs",
            )
            journey.check(page)
            page.get_by_role("button", name="Confirmer").click()
            expect(page.get_by_text(f"{reference} : objectifs validés.")).to_be_visible()
            journey.check(page)

        with journey.step("ministry records the payment", user=ministry_user) as page:
            page.get_by_role("link", name=f"Enregistrer un paiement : {reference}").click()
            # The balance, the whole grant (no advance in this call), is proposed.
            expect(page.get_by_label("Montant (€)")).to_have_value(f"{GRANTED}.00")
            journey.check(page)
            page.get_by_label("Référence Chorus").fill("CHORUS-2026-0042")
            page.get_by_role("button", name="Enregistrer le paiement").click()
            expect(
                page.get_by_text(
                    re.compile(rf"^Paiement de {granted}\s€ enregistré pour {reference} \(Payée\)")
                )
            ).to_be_visible()
            journey.check(page)

    application.refresh_from_db()
    assert application.status == Status.PAID
    assert application.granted_amount == GRANTED
    assert list(
        Payment.objects.filter(application=application).values_list("amount", flat=True)
    ) == [GRANTED]
    assert Dossier.objects.filter(application=application, status="done").count() == 2

    # 7. The regional dashboard shows the approval and the amount paid.
    with journey.step("regional dashboard shows the new figures", user=ars_user) as page:
        page.get_by_role("link", name="Suivi de la participation").first.click()
        page.wait_for_url(re.compile(r"/suivi/regions/84/"))
        expect(page.get_by_label("Appel à financement")).to_have_value(call.code)

        def key_figure(label: str):
            return (
                page.locator("section[aria-labelledby='key-figures-title'] .monitoring-figure")
                .filter(has=page.get_by_text(label, exact=True))
                .locator("p.fr-h4")
            )

        expect(key_figure("candidatures déposées")).to_have_text("1")
        expect(key_figure("candidatures accordées")).to_have_text("1")
        expect(key_figure("accordés")).to_have_text(
            re.compile(rf"^{french_amount(GRANTED, cents=False)}\s€$")
        )
        expect(key_figure("payés")).to_have_text(
            re.compile(rf"^{french_amount(GRANTED, cents=False)}\s€$")
        )
        journey.check(page)
