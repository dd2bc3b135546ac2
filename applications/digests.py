"""Daily digests and reminders (queued by Celery beat: `applications.send_digests_task`).

- ARS agents: what entered their region's queue since their last digest, what has
  waited there more than `CARE_DIGEST_WAITING_DAYS`, the objectives to check;
- ministry users: applications in national review, co-signatures waiting for them,
  objectives to validate, payments due;
- applicants: returned files whose due date is near or passed, and the objectives
  deadline drawing near (`CARE_REMINDER_DAYS`).

The work digest goes to users with `wants_work_digest`, the reminders to users with
`wants_reminders`; a digest with nothing to say is not sent, and none is sent twice the
same day (`DigestSent`, unique per user, kind and day). Everything is read in a fixed
number of queries, whatever the number of users and applications; each e-mail sent
adds its `DigestSent` row.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Max, OuterRef, Q, Subquery
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Membership, User
from care_portal.mail import enqueue_email

from .lifecycle import Status
from .models import Application, CoSignature, DigestSent, Transition
from .tracking import Step, at_step

ITEMS_PER_SECTION = 20
WORK = DigestSent.Kind.WORK.value
REMINDERS = DigestSent.Kind.REMINDERS.value


@dataclass(frozen=True)
class Item:
    """One application in a digest: its reference, candidate, a detail and a link."""

    reference: str
    candidate: str
    url: str
    detail: str = ""


@dataclass
class Section:
    title: str
    count: int
    items: list[Item] = field(default_factory=list)
    url: str = ""  # the list where they wait
    note: str = ""

    @property
    def more(self) -> int:
        return max(self.count - len(self.items), 0)


@dataclass
class Digest:
    user: User
    kind: str
    sections: list[Section]

    def __bool__(self) -> bool:
        return any(section.count for section in self.sections)


@dataclass
class _Scope:
    national: bool = False
    region_ids: set[int] = field(default_factory=set)
    entity_ids: set[int] = field(default_factory=set)


def _url(path: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{path}"


def _detail_url(row: dict[str, Any]) -> str:
    return _url(reverse("applications:application-detail", args=[row["public_id"]]))


def _date(value: date) -> str:
    return formats.date_format(value)


def _section(
    title: str, rows: list[dict[str, Any]], detail: Any, url: Any, link: str = ""
) -> Section:
    items = [
        Item(row["reference"], row["candidate__name"], url(row), detail(row))
        for row in rows[:ITEMS_PER_SECTION]
    ]
    return Section(title, len(rows), items, link)


def _days(since: datetime | None, now: datetime) -> int:
    return (now - since).days if since else 0


# --- Who gets what ---------------------------------------------------------------------


def _recipients() -> dict[int, tuple[User, _Scope]]:
    """Active users wanting a digest or reminders, with their scope (two queries)."""
    users = {
        user.pk: (user, _Scope(national=user.is_superuser))
        for user in User.objects.filter(is_active=True).filter(
            Q(wants_work_digest=True) | Q(wants_reminders=True)
        )
    }
    memberships = Membership.objects.filter(user_id__in=list(users)).values_list(
        "user_id", "role", "region_id", "legal_entity_id"
    )
    for user_id, role, region_id, entity_id in memberships:
        scope = users[user_id][1]
        if role == Membership.Role.MINISTRY:
            scope.national = True
        elif role == Membership.Role.REGIONAL and region_id:
            scope.region_ids.add(region_id)
        elif role == Membership.Role.ESTABLISHMENT and entity_id:
            scope.entity_ids.add(entity_id)
    return users


def _entered_current_status() -> Subquery:
    """When the application entered its current status (its latest such transition)."""
    return Subquery(
        Transition.objects.filter(application=OuterRef("pk"), to_status=OuterRef("status"))
        .order_by("-created_at")
        .values("created_at")[:1]
    )


ROW_FIELDS = ("public_id", "reference", "candidate__name", "status")


# --- ARS agents ---------------------------------------------------------------------------


def _regional_rows(region_ids: set[int]) -> dict[int, list[dict[str, Any]]]:
    """The regions' queues (regional review, objectives declared), by region: one query."""
    if not region_ids:
        return {}
    rows = (
        Application.objects.filter(
            status__in=[Status.REGIONAL_REVIEW, Status.OBJECTIVES_DECLARED],
            candidate__department__region_id__in=region_ids,
        )
        .annotate(
            entered_at=_entered_current_status(), region=F("candidate__department__region_id")
        )
        .order_by("entered_at", "reference")
        .values(*ROW_FIELDS, "region", "entered_at")
    )
    by_region: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_region[row["region"]].append(row)
    return by_region


def regional_sections(
    rows: Iterable[dict[str, Any]], *, since: datetime, now: datetime, waiting_days: int
) -> list[Section]:
    rows = list(rows)
    review = [r for r in rows if r["status"] == Status.REGIONAL_REVIEW]
    new = [r for r in review if r["entered_at"] and r["entered_at"] >= since]
    limit = now - timedelta(days=waiting_days)
    waiting = [r for r in review if r["entered_at"] and r["entered_at"] < limit]
    to_check = [r for r in rows if r["status"] == Status.OBJECTIVES_DECLARED]

    def waiting_for(row: dict[str, Any]) -> str:
        return _("en attente depuis %(days)s jours") % {"days": _days(row["entered_at"], now)}

    def check_url(row: dict[str, Any]) -> str:
        return _url(reverse("applications:objectives-check", args=[row["public_id"]]))

    return [
        _section(
            _("Nouvelles candidatures à instruire depuis le dernier récapitulatif"),
            new,
            lambda r: (
                _("arrivée le %(date)s") % {"date": _date(timezone.localdate(r["entered_at"]))}
            ),
            _detail_url,
        ),
        _section(
            _("Candidatures en instruction depuis plus de %(days)s jours") % {"days": waiting_days},
            waiting,
            waiting_for,
            _detail_url,
        ),
        _section(_("Objectifs déclarés atteints, à vérifier"), to_check, waiting_for, check_url),
    ]


# --- Ministry users -------------------------------------------------------------------------


@dataclass
class _National:
    review: int = 0
    review_waiting: int = 0
    co_signatures: list[dict[str, Any]] = field(default_factory=list)
    to_validate: list[dict[str, Any]] = field(default_factory=list)
    to_pay: list[dict[str, Any]] = field(default_factory=list)


def _national(now: datetime, waiting_days: int) -> _National:
    """What waits for the ministry (four queries, shared by every ministry user)."""
    counts = (
        Application.objects.filter(status=Status.NATIONAL_REVIEW)
        .annotate(entered_at=_entered_current_status())
        .aggregate(
            review=Count("id"),
            waiting=Count("id", filter=Q(entered_at__lt=now - timedelta(days=waiting_days))),
        )
    )
    applications = Application.objects.order_by("updated_at", "reference")
    advance_due = at_step(Application.objects.all(), Step.ADVANCE_DUE).values("pk")
    return _National(
        review=counts["review"],
        review_waiting=counts["waiting"],
        co_signatures=[
            dict(row)
            for row in CoSignature.objects.filter(state=CoSignature.State.PENDING)
            .order_by("created_at")
            .values(
                "requested_by_id",
                "amount",
                public_id=F("application__public_id"),
                reference=F("application__reference"),
                candidate__name=F("application__candidate__name"),
                status=F("application__status"),
            )
        ],
        to_validate=list(at_step(applications, Step.TO_VALIDATE).values(*ROW_FIELDS)),
        to_pay=list(
            applications.filter(
                Q(status=Status.OBJECTIVES_VALIDATED) | Q(pk__in=advance_due)
            ).values(*ROW_FIELDS)
        ),
    )


def _admin_url(name: str, query: str = "") -> str:
    return _url(reverse(f"admin:applications_{name}_changelist")) + (f"?{query}" if query else "")


def national_sections(national: _National, user: User, waiting_days: int) -> list[Section]:
    co_signatures = [c for c in national.co_signatures if c["requested_by_id"] != user.pk]
    review = Section(
        _("Candidatures en instruction nationale"),
        national.review,
        url=_admin_url("application", f"status__exact={Status.NATIONAL_REVIEW.value}"),
    )
    if national.review_waiting:
        review.note = _("dont %(count)s depuis plus de %(days)s jours") % {
            "count": national.review_waiting,
            "days": waiting_days,
        }

    def funded(step: str) -> str:
        return _admin_url("fundedapplication", f"step={step}")

    def status_label(row: dict[str, Any]) -> str:
        return str(Status(row["status"]).label)

    return [
        review,
        _section(
            _("Co-signatures en attente d'un second agent"),
            co_signatures,
            lambda c: (
                _("%(amount)s € à co-signer")
                % {"amount": formats.number_format(c["amount"], 2, force_grouping=True)}
            ),
            _detail_url,
        ),
        _section(
            _("Objectifs vérifiés par l'ARS, à valider"),
            national.to_validate,
            status_label,
            _detail_url,
            funded(Step.TO_VALIDATE),
        ),
        _section(
            _("Paiements à enregistrer"),
            national.to_pay,
            status_label,
            _detail_url,
            funded(Step.TO_PAY),
        ),
    ]


# --- Applicants -----------------------------------------------------------------------------


def _applicant_rows(
    entity_ids: set[int], today: date, days: int
) -> dict[int, list[dict[str, Any]]]:
    """Returned files due soon or late, and approved applications whose objectives
    deadline draws near, by candidate: one query."""
    if not entity_ids:
        return {}
    horizon = today + timedelta(days=days)
    rows = (
        Application.objects.filter(candidate_id__in=entity_ids)
        .filter(
            Q(status=Status.RETURNED, return_due_on__lte=horizon)
            | Q(
                status=Status.APPROVED,
                call__objectives_deadline__gte=today,
                call__objectives_deadline__lte=horizon,
            )
        )
        .order_by("reference")
        .values(*ROW_FIELDS, "candidate_id", "return_due_on", "call__objectives_deadline")
    )
    by_candidate: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_candidate[row["candidate_id"]].append(row)
    return by_candidate


def applicant_sections(rows: Iterable[dict[str, Any]], today: date) -> list[Section]:
    rows = list(rows)
    returned = [r for r in rows if r["status"] == Status.RETURNED]
    objectives = [r for r in rows if r["status"] == Status.APPROVED]

    def due(row: dict[str, Any]) -> str:
        day = row["return_due_on"]
        if day < today:
            return _("compléments attendus pour le %(date)s : en retard") % {"date": _date(day)}
        return _("compléments attendus pour le %(date)s") % {"date": _date(day)}

    def objectives_url(row: dict[str, Any]) -> str:
        return _url(reverse("applications:objectives", args=[row["public_id"]]))

    return [
        _section(_("Candidatures renvoyées pour compléments"), returned, due, _detail_url),
        _section(
            _("Déclaration des objectifs atteints : date limite proche"),
            objectives,
            lambda r: (
                _("à déclarer au plus tard le %(date)s")
                % {"date": _date(r["call__objectives_deadline"])}
            ),
            objectives_url,
        ),
    ]


# --- Building and sending ------------------------------------------------------------------------


def build_digests(*, now: datetime | None = None) -> list[Digest]:
    """Every digest due today, empty ones left out (a fixed number of queries)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    waiting_days = settings.CARE_DIGEST_WAITING_DAYS
    recipients = _recipients()
    sent_today = set(
        DigestSent.objects.filter(day=today, user_id__in=list(recipients)).values_list(
            "user_id", "kind"
        )
    )
    last_sent = dict(
        DigestSent.objects.filter(kind=WORK, day__lt=today, user_id__in=list(recipients))
        .values("user_id")
        .annotate(last=Max("sent_at"))
        .values_list("user_id", "last")
    )
    work_users = [
        (user, scope)
        for user, scope in recipients.values()
        if user.wants_work_digest and (user.pk, WORK) not in sent_today
    ]
    reminder_users = [
        (user, scope)
        for user, scope in recipients.values()
        if user.wants_reminders and scope.entity_ids and (user.pk, REMINDERS) not in sent_today
    ]
    regions = _regional_rows({r for _u, scope in work_users for r in scope.region_ids})
    national = (
        _national(now, waiting_days) if any(scope.national for _u, scope in work_users) else None
    )
    applicant = _applicant_rows(
        {e for _u, scope in reminder_users for e in scope.entity_ids},
        today,
        settings.CARE_REMINDER_DAYS,
    )

    digests = []
    for user, scope in work_users:
        sections: list[Section] = []
        if scope.region_ids:
            since = last_sent.get(user.pk) or now - timedelta(days=1)
            rows = [row for region in sorted(scope.region_ids) for row in regions.get(region, [])]
            sections += regional_sections(rows, since=since, now=now, waiting_days=waiting_days)
        if scope.national and national is not None:
            sections += national_sections(national, user, waiting_days)
        digests.append(Digest(user, WORK, sections))
    for user, scope in reminder_users:
        rows = [row for entity in sorted(scope.entity_ids) for row in applicant.get(entity, [])]
        digests.append(Digest(user, REMINDERS, applicant_sections(rows, today)))
    return [digest for digest in digests if digest]


def render_digest(digest: Digest) -> tuple[str, str]:
    """The French subject and body of a digest."""
    with translation.override(settings.LANGUAGE_CODE):
        context = {
            "digest": digest,
            "user": digest.user,
            "is_work": digest.kind == WORK,
            "sections": [s for s in digest.sections if s.count],
            "site_url": settings.SITE_URL,
            "notifications_url": _url(reverse("accounts:notifications")),
        }
        subject = render_to_string("applications/email/digest_subject.txt", context).strip()
        body = render_to_string("applications/email/digest_body.txt", context)
    return subject, body


def send_daily_digests(*, now: datetime | None = None) -> int:
    """Send today's digests; returns how many were sent. Each is recorded before its
    e-mail is queued (on commit): a second run the same day sends none again."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    sent = 0
    for digest in build_digests(now=now):
        subject, body = render_digest(digest)
        with transaction.atomic():
            _row, created = DigestSent.objects.get_or_create(
                user=digest.user, kind=digest.kind, day=today, defaults={"sent_at": now}
            )
            if created:
                enqueue_email(subject=subject, body=body, to=[digest.user.email])
                sent += 1
    return sent
