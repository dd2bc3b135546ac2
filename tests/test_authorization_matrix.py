"""The authorisation matrix: every URL pattern of the project, requested by eight
personas, against ONE table of who may succeed and what the others get.

Every pattern of `get_resolver()` (the portal's apps, the admin's pages of every
registered model and its custom pages, i18n, healthz, security.txt, accounts) must
have a rule in `RULES` (or, for the admin's model pages, a policy in `ADMIN_MODELS`):
a new view without one fails `test_every_url_has_an_authorisation_rule`.

Rules are written for the objects of hospital A in region X; the same URL is also
requested with the objects of hospital B in region Y, the personas swapped (the user of
B is then the insider, the user of A the outsider). GET is requested for every URL,
POST (empty body, no CSRF check) for the views that accept it: a POST by a persona not
allowed to write must leave the data as it was. No answer may be a 500.

The agents (ARS, ministry, staff, superuser) are also run with the second factor
required and not given: every page outside the open paths (accounts, i18n, healthz)
must send them to the two-factor pages, the admin included.

The world is built once for the module, in a transaction rolled back at its end; each
check runs in a savepoint of its own (the module's `db` fixture), so that what a POST
writes is undone before the next check."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import connection, transaction
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.twofactor import OPEN_PATHS
from applications import decision_jobs, decisions
from establishments.models import Department, Region
from establishments.reference import load_territory

from .authz_world import (
    AGENTS,
    ANONYMOUS,
    ARS_X,
    ARS_Y,
    ESTABLISHMENT_A,
    ESTABLISHMENT_B,
    MINISTRY,
    PERSONAS,
    STAFF_NO_MEMBERSHIP,
    SUPERUSER,
    Side,
    World,
    build_world,
)

# --- Outcomes ---------------------------------------------------------------------------

OK = "ok"  # 2xx, or a 3xx of the normal flow (not to a login or two-factor page)
LOGIN = "login"  # 302 to the portal's or the admin's login page, with ?next=
TWO_FACTOR = "2fa"  # 302 to the two-factor pages, with ?next=
DENIED = "denied"  # 403 or 404
NOT_FOUND = "404"  # a scoped object outside the user's scope: 404, never 403 nor 200
NOT_ALLOWED = "405"  # the method is not served
REJECTED = "rejected"  # an allowed user's empty POST refused as invalid: 400 or 404
ADMIN_INDEX = "admin index"  # 302 to the admin's index, without ?next=

Expect = dict[str, str]

USERS = tuple(p for p in PERSONAS if p != ANONYMOUS)
STAFF = (MINISTRY, STAFF_NO_MEMBERSHIP, SUPERUSER)
NON_STAFF = tuple(p for p in PERSONAS if p not in STAFF)
PROGRAMME = (MINISTRY, SUPERUSER)  # the admin's programme data (accounts.backends)
# Who sees hospital A and its submitted applications: its users, the ARS of its
# region, the ministry (and the superuser, national).
INSIDERS_A = (ESTABLISHMENT_A, ARS_X, MINISTRY, SUPERUSER)
# Who follows the participation of A's region: its ARS, the ministry, the superuser.
MONITORS_A = (ARS_X, MINISTRY, SUPERUSER)
# B's objects are requested with the personas swapped.
MIRROR = {
    ESTABLISHMENT_A: ESTABLISHMENT_B,
    ESTABLISHMENT_B: ESTABLISHMENT_A,
    ARS_X: ARS_Y,
    ARS_Y: ARS_X,
}


def everyone(outcome: str = OK) -> Expect:
    return dict.fromkeys(PERSONAS, outcome)


def signed_in(outcome: str = OK, *, anonymous: str = LOGIN) -> Expect:
    """Any signed-in user gets `outcome`; the anonymous visitor goes to log in."""
    return {**dict.fromkeys(USERS, outcome), ANONYMOUS: anonymous}


def only(allowed: tuple[str, ...], *, others: str = NOT_FOUND, outcome: str = OK) -> Expect:
    """`allowed` get `outcome`, the other signed-in users `others`, anonymous logs in."""
    return {**signed_in(others), **dict.fromkeys(allowed, outcome)}


def admin_only(allowed: tuple[str, ...], *, staff: str = DENIED, outcome: str = OK) -> Expect:
    """The admin: non-staff users (and anonymous) are sent to its login page, staff
    without the permission get 403 (or 404), `allowed` get `outcome`."""
    table = {**dict.fromkeys(NON_STAFF, LOGIN), **dict.fromkeys(STAFF, staff)}
    return {**table, **dict.fromkeys(allowed, outcome)}


@dataclass(frozen=True)
class Rule:
    get: Expect
    post: Expect | None = None  # None: the view is not POSTed to
    # Who may change data with an empty POST (an own-account action, a draft saved
    # empty); for anyone else the data must be left as it was.
    writers: tuple[str, ...] = ()
    ends_session: bool = False  # the POST logs the client out: use a client of its own


# --- The table: the portal ---------------------------------------------------------------

DRAFT, SUBMITTED = "draft", "submitted"
# The reviewers' half: an application in instruction by the ARS, approved (its
# objectives to declare), its objectives declared (to check).
REVIEW, APPROVED, DECLARED = "regional_review", "approved", "objectives_declared"


def section(rule_draft: Rule, rule_submitted: Rule) -> dict[str | None, Rule]:
    return {DRAFT: rule_draft, SUBMITTED: rule_submitted}


# Who reads an application's instruction page: its region's ARS, the ministry (and the
# superuser, national).
INSTRUCTION_READERS = (ARS_X, MINISTRY, SUPERUSER)


def instruction_act(*, outcome: str) -> dict[str | None, Rule]:
    """An act of the instruction page (POST only) on an application in instruction:
    the region's agent gets `outcome` (and may write), the ministry and the superuser
    403, anyone else not found."""
    readers = only(INSTRUCTION_READERS, outcome=DENIED)
    return {
        REVIEW: Rule(
            get=signed_in(NOT_ALLOWED),
            post=readers | {ARS_X: outcome},
            writers=(ARS_X,) if outcome == OK else (),
        )
    }


def tracking_act(actor: str, *, outcome: str) -> Rule:
    """A write of tracking (POST only): `actor` gets `outcome` (and may write), the
    others who see the application 403, anyone else not found."""
    return Rule(
        get=signed_in(NOT_ALLOWED),
        post=only(INSIDERS_A, outcome=DENIED) | {actor: outcome},
        writers=(actor,) if outcome == OK else (),
    )


# An application section (identity, answers, budget, statement): only the candidate's
# users edit a draft; a submitted one sends its readers back to its page.
EDITABLE_SECTION = section(
    Rule(get=only((ESTABLISHMENT_A,)), post=only((ESTABLISHMENT_A,)), writers=(ESTABLISHMENT_A,)),
    Rule(get=only(INSIDERS_A), post=only(INSIDERS_A)),
)

# The admin's sections: the programme's (ministry and superusers), and the others.
PROGRAMME_APPS = ("establishments", "audits", "applications")
OTHER_APPS = ("auth", "axes", "otp_totp", "otp_static", "dsfr", "accounts")

# A file of A's submitted application asked for under B's (ids of two applications
# mixed in one URL): not found, even by whoever sees both applications.
CROSSED = "crossed"
CROSSED_READ = Rule(get=signed_in(NOT_FOUND))
CROSSED_POST = Rule(get=signed_in(NOT_ALLOWED), post=signed_in(NOT_FOUND))

RULES: dict[str, dict[str | None, Rule]] = {
    # Public pages.
    "home": {None: Rule(get=everyone())},
    "healthz": {None: Rule(get=everyone())},
    "security-txt": {None: Rule(get=everyone())},
    "accessibility": {None: Rule(get=everyone())},
    "set_language": {None: Rule(get=everyone(), post=everyone())},
    # Accounts.
    "accounts:login": {None: Rule(get=everyone(), post=everyone())},
    "accounts:logout": {
        None: Rule(get=everyone(NOT_ALLOWED), post=everyone(), writers=USERS, ends_session=True)
    },
    "accounts:security": {
        None: Rule(get=signed_in(), post=signed_in(), writers=USERS, ends_session=True)
    },
    "accounts:2fa-verify": {None: Rule(get=signed_in(), post=signed_in())},
    "accounts:2fa-setup": {None: Rule(get=signed_in(), post=signed_in(), writers=USERS)},
    "accounts:2fa-recovery-codes": {None: Rule(get=signed_in(NOT_ALLOWED), post=signed_in())},
    # ProConnect is off in the test settings: both URLs are 404 for everyone, and only
    # GET is served. Switched on, tests/accounts/test_proconnect.py covers them.
    "accounts:proconnect-login": {None: Rule(get=everyone(NOT_FOUND), post=everyone(NOT_ALLOWED))},
    "accounts:proconnect-callback": {
        None: Rule(get=everyone(NOT_FOUND), post=everyone(NOT_ALLOWED))
    },
    "accounts:password-reset": {None: Rule(get=everyone(), post=everyone())},
    "accounts:password-reset-done": {None: Rule(get=everyone())},
    "accounts:password-reset-confirm": {None: Rule(get=everyone(), post=everyone())},
    "accounts:password-reset-complete": {None: Rule(get=everyone())},
    # The directory and Volet 1: scoped to the entity.
    "establishments:legalentity-list": {None: Rule(get=signed_in())},
    "establishments:legalentity-detail": {None: Rule(get=only(INSIDERS_A))},
    "audits:volet1-detail": {None: Rule(get=only(INSIDERS_A))},
    # Applications: a draft is its candidate's only; a submitted one is also its
    # region's ARS's and the ministry's.
    "applications:application-list": {None: Rule(get=signed_in())},
    "applications:application-start": {
        None: Rule(get=signed_in(NOT_ALLOWED), post=signed_in(NOT_FOUND))
    },
    "applications:application-detail": section(
        Rule(get=only((ESTABLISHMENT_A,))), Rule(get=only(INSIDERS_A))
    ),
    "applications:application-identity": EDITABLE_SECTION,
    "applications:application-answers": EDITABLE_SECTION,
    "applications:application-budget": EDITABLE_SECTION,
    "applications:application-submit": EDITABLE_SECTION,
    "applications:application-withdraw": section(
        Rule(
            get=only((ESTABLISHMENT_A,)),
            post=only((ESTABLISHMENT_A,)),
            writers=(ESTABLISHMENT_A,),
        ),
        Rule(get=only(INSIDERS_A), post=only(INSIDERS_A), writers=(ESTABLISHMENT_A,)),
    ),
    "applications:message-create": section(
        Rule(get=signed_in(NOT_ALLOWED), post=only((ESTABLISHMENT_A,), outcome=REJECTED)),
        Rule(get=signed_in(NOT_ALLOWED), post=only(INSIDERS_A, outcome=REJECTED)),
    ),
    "applications:evidence-upload": section(
        Rule(get=signed_in(NOT_ALLOWED), post=only((ESTABLISHMENT_A,), outcome=REJECTED)),
        Rule(get=signed_in(NOT_ALLOWED), post=only(INSIDERS_A)),
    ),
    "applications:evidence-download": section(
        Rule(get=only((ESTABLISHMENT_A,))), Rule(get=only(INSIDERS_A))
    )
    | {CROSSED: CROSSED_READ},
    "applications:evidence-delete": section(
        Rule(get=signed_in(NOT_ALLOWED), post=only((ESTABLISHMENT_A,)), writers=(ESTABLISHMENT_A,)),
        Rule(get=signed_in(NOT_ALLOWED), post=only(INSIDERS_A)),
    )
    | {CROSSED: CROSSED_POST},
    "applications:dossier-download": {SUBMITTED: Rule(get=only(INSIDERS_A)), CROSSED: CROSSED_READ},
    # Relaunching a rendering is the ministry's; the candidate and its ARS read it.
    "applications:dossier-retry": {
        SUBMITTED: Rule(
            get=signed_in(NOT_ALLOWED),
            post={
                **only((MINISTRY, SUPERUSER)),
                ESTABLISHMENT_A: DENIED,
                ARS_X: DENIED,
            },
        ),
        CROSSED: CROSSED_POST,
    },
    # The ARS's instruction (issue 10): the queue is the reviewers' (the agents of a
    # region, the ministry; 403 to anyone else signed in); an application's page is its
    # region's agents' and the ministry's, who reads it only: its acts are the agents'
    # (403 to the ministry), not found for anyone else. A draft is nobody's here.
    "instruction:queue": {None: Rule(get=only((ARS_X, ARS_Y, MINISTRY, SUPERUSER), others=DENIED))},
    "instruction:detail": {
        REVIEW: Rule(get=only(INSTRUCTION_READERS)),
        DRAFT: Rule(get=signed_in(NOT_FOUND)),
    },
    # "I take it" needs no form: it puts the application in the agent's name.
    "instruction:take": instruction_act(outcome=OK),
    # The other acts refuse an empty form (400, the page shown again with the errors).
    **{
        f"instruction:{name}": instruction_act(outcome=REJECTED)
        for name in ("reassign", "note", "opinion", "return", "recuse", "message")
    },
    # Tracking to payment: whoever sees an application reads its objectives once it is
    # approved (not before: not found); its users declare them, the ARS of its region
    # checks them; the others who see it are refused (403).
    "applications:objectives": {
        APPROVED: Rule(get=only(INSIDERS_A)),
        SUBMITTED: Rule(get=signed_in(NOT_FOUND)),
    },
    # Declaring with an objective still undeclared is refused (400, what is missing).
    "applications:objectives-declare": {
        APPROVED: tracking_act(ESTABLISHMENT_A, outcome=REJECTED),
    },
    # An objective declared with an empty comment and no file is saved.
    "applications:objective-save": {
        APPROVED: tracking_act(ESTABLISHMENT_A, outcome=OK),
    },
    "applications:objective-evidence-delete": {
        APPROVED: tracking_act(ESTABLISHMENT_A, outcome=OK),
        CROSSED: CROSSED_POST,
    },
    # The check: a page with one decision per declared objective (an empty one is
    # refused); before the declaration, a page to read, which an empty POST only shows.
    "applications:objectives-check": {
        DECLARED: Rule(
            get=only(INSIDERS_A, outcome=DENIED) | {ARS_X: OK},
            post=only(INSIDERS_A, outcome=DENIED) | {ARS_X: REJECTED},
        ),
        APPROVED: Rule(
            get=only(INSIDERS_A, outcome=DENIED) | {ARS_X: OK},
            post=only(INSIDERS_A, outcome=DENIED) | {ARS_X: OK},
        ),
    },
    # Each user's choice of e-mails: an empty POST shows the form again.
    "accounts:notifications": {None: Rule(get=signed_in(), post=signed_in())},
    # The documents' part of the application page, which the page polls: its readers'.
    "applications:dossier-status": section(
        Rule(get=only((ESTABLISHMENT_A,))), Rule(get=only(INSIDERS_A))
    ),
    # A document stuck waiting for a worker: its readers may ask (an empty POST names no
    # document: refused); the relaunch itself is the candidate's and the ministry's.
    "applications:dossier-relaunch": section(
        Rule(get=signed_in(NOT_ALLOWED), post=only((ESTABLISHMENT_A,), outcome=REJECTED)),
        Rule(get=signed_in(NOT_ALLOWED), post=only(INSIDERS_A, outcome=REJECTED)),
    ),
    # Monitoring: the dashboards, lists, exports and reports of a place (A's region and
    # département; B's with the personas swapped) are its ARS's and the ministry's; an
    # ARS agent asking for the national page is sent to their region; GET only.
    "monitoring:national": {
        None: Rule(get=only((ARS_X, ARS_Y, MINISTRY, SUPERUSER)), post=signed_in(NOT_ALLOWED))
    },
    **{
        f"monitoring:{name}": {None: Rule(get=only(MONITORS_A), post=signed_in(NOT_ALLOWED))}
        for name in ("region", "region-report", "department", "entities")
    },
    "monitoring:export": {
        variant: Rule(get=only(MONITORS_A), post=signed_in(NOT_ALLOWED))
        for variant in ("entites.csv", "chiffres.xlsx")
    },
    # The admin's own pages.
    "admin:index": {None: Rule(get=admin_only(STAFF))},
    # A staff user already signed in is sent on to the index.
    "admin:login": {
        None: Rule(get=everyone() | dict.fromkeys(STAFF, ADMIN_INDEX), post=everyone())
    },
    "admin:logout": {
        None: Rule(
            # The admin sends anyone else back to its index (which asks to log in).
            get=admin_only((), staff=NOT_ALLOWED) | dict.fromkeys(NON_STAFF, ADMIN_INDEX),
            post=admin_only(STAFF) | dict.fromkeys(NON_STAFF, ADMIN_INDEX),
            writers=STAFF,
            ends_session=True,
        )
    },
    "admin:password_change": {None: Rule(get=admin_only(STAFF), post=admin_only(STAFF))},
    "admin:password_change_done": {None: Rule(get=admin_only(STAFF))},
    "admin:jsi18n": {None: Rule(get=admin_only(STAFF))},
    # The search of an autocomplete field: only who may view the searched model.
    "admin:autocomplete": {None: Rule(get=admin_only(PROGRAMME))},
    # No model has a public URL: "view on site" finds nothing, for every staff user.
    "admin:view_on_site": {None: Rule(get=admin_only(()))},
    "admin:admin/(?P<url>.*)$": {None: Rule(get=admin_only((), staff=NOT_FOUND))},
    # A section of the admin's index: 404 to staff with no permission in it.
    "admin:app_list": {
        label: Rule(get=admin_only(PROGRAMME if label in PROGRAMME_APPS else (SUPERUSER,)))
        for label in (*OTHER_APPS, *PROGRAMME_APPS)
    },
    # Custom admin pages.
    "admin:establishments_legalentity_import": {
        None: Rule(get=admin_only(PROGRAMME), post=admin_only(PROGRAMME))
    },
    "admin:auth_user_password_change": {
        None: Rule(get=admin_only((SUPERUSER,)), post=admin_only((SUPERUSER,)))
    },
    "admin:otp_totp_totpdevice_config": {None: Rule(get=admin_only((SUPERUSER,)))},
    "admin:otp_totp_totpdevice_qrcode": {None: Rule(get=admin_only((SUPERUSER,)))},
    # The ministry's decisions (national staff; 403 to other staff): the confirmation
    # page of the chosen applications; a POST without them finds nothing (404).
    "admin:applications_application_decide": {
        None: Rule(get=admin_only(PROGRAMME), post=admin_only(PROGRAMME, outcome=REJECTED))
    },
    # A decision's report is only for whoever took it: not found for any other.
    "admin:applications_application_decision_report": {
        None: Rule(get=admin_only((MINISTRY,), staff=NOT_FOUND))
    },
    # The payment form of an approved application (an empty POST shows it again); an
    # application not approved has none.
    "admin:applications_fundedapplication_payment": {
        APPROVED: Rule(get=admin_only(PROGRAMME), post=admin_only(PROGRAMME)),
        SUBMITTED: Rule(get=admin_only(PROGRAMME, outcome=NOT_FOUND)),
    },
}


# --- The table: the admin's pages of each model ----------------------------------------


@dataclass(frozen=True)
class AdminPolicy:
    """Who may view, add, change and delete a model in the admin."""

    view: tuple[str, ...]
    add: tuple[str, ...]
    change: tuple[str, ...]
    delete: tuple[str, ...]


SUPERUSER_ONLY = AdminPolicy(
    view=(SUPERUSER,), add=(SUPERUSER,), change=(SUPERUSER,), delete=(SUPERUSER,)
)
AXES_RECORDS = AdminPolicy(view=(SUPERUSER,), add=(), change=(), delete=(SUPERUSER,))
# The programme's data: the ministry views, adds and changes, never deletes.
PROGRAMME_DATA = AdminPolicy(view=PROGRAMME, add=PROGRAMME, change=PROGRAMME, delete=(SUPERUSER,))
# Reference data from a migration: shown and corrected, never added nor deleted.
REFERENCE = AdminPolicy(view=PROGRAMME, add=(), change=PROGRAMME, delete=())
# Written by the portal's acts and the admin's actions and forms only: listed and shown.
READ_ONLY = AdminPolicy(view=PROGRAMME, add=(), change=(), delete=())

ADMIN_MODELS: dict[str, AdminPolicy] = {
    "auth.group": SUPERUSER_ONLY,
    # Login attempts are recorded by axes, never added by hand.
    "axes.accessattempt": AXES_RECORDS,
    "axes.accesslog": AXES_RECORDS,
    "axes.accessfailurelog": AXES_RECORDS,
    "otp_totp.totpdevice": SUPERUSER_ONLY,
    "otp_static.staticdevice": SUPERUSER_ONLY,
    "dsfr.dsfrconfig": SUPERUSER_ONLY,
    # Accounts are the superusers' (the programme administrators').
    "accounts.user": SUPERUSER_ONLY,
    "accounts.membership": SUPERUSER_ONLY,
    # The audit trail is append-only: read (and exported) by the superusers only.
    "accounts.auditevent": AdminPolicy(view=(SUPERUSER,), add=(), change=(), delete=()),
    "establishments.region": REFERENCE,
    "establishments.department": REFERENCE,
    "establishments.ght": PROGRAMME_DATA,
    "establishments.legalentity": PROGRAMME_DATA,
    "establishments.site": PROGRAMME_DATA,
    "audits.directoryaudit": PROGRAMME_DATA,
    "audits.exposurescan": PROGRAMME_DATA,
    # A batch is added by the upload page, then only read.
    "audits.auditimport": AdminPolicy(
        view=PROGRAMME, add=PROGRAMME, change=(), delete=(SUPERUSER,)
    ),
    # Computed from the audits and scans: read only.
    "audits.volet1status": AdminPolicy(view=PROGRAMME, add=(), change=(), delete=()),
    "applications.fundingcall": PROGRAMME_DATA,
    # Filed on the portal, never added nor edited here: decisions are admin actions.
    "applications.application": AdminPolicy(view=PROGRAMME, add=(), change=(), delete=(SUPERUSER,)),
    # Approvals waiting for a co-signature, declared conflicts of interest.
    "applications.cosignature": READ_ONLY,
    "applications.conflictdeclaration": READ_ONLY,
    # Tracking to payment: the approved applications (their actions validate or return
    # the objectives, a form records a payment) and the payments recorded.
    "applications.fundedapplication": READ_ONLY,
    "applications.payment": READ_ONLY,
}


def admin_model_rules(policy: AdminPolicy, *, hidden_from: tuple[str, ...] = ()) -> dict[str, Rule]:
    """The rules of a model's changelist, add, change, delete, history and object
    redirect pages. An empty POST never changes anything, whoever sends it. For the
    personas in `hidden_from`, the object is outside what the admin lists them: its
    pages send them back to the index ("does not exist")."""
    readers = tuple(dict.fromkeys(policy.view + policy.change))
    hidden = dict.fromkeys(hidden_from, ADMIN_INDEX)
    # The change page checks the permission first (403), the history page the object.
    hidden_readers = {p: o for p, o in hidden.items() if p in readers}
    return {
        "changelist": Rule(get=admin_only(readers), post=admin_only(readers)),
        "add": Rule(get=admin_only(policy.add), post=admin_only(policy.add)),
        # A read-only change page shows the object; only a changer may POST to it.
        "change": Rule(
            get=admin_only(readers) | hidden_readers,
            post=admin_only(policy.change) | hidden_readers,
        ),
        "delete": Rule(get=admin_only(policy.delete), post=admin_only(policy.delete)),
        "history": Rule(get=admin_only(readers) | hidden),
        # <object_id>/ redirects any staff user to the change page (which decides).
        "redirect": Rule(get=admin_only(STAFF)),
    }


ADMIN_ACTIONS = ("changelist", "add", "change", "delete", "history")


def admin_model_key(label: str, action: str) -> str:
    app_label, model_name = label.split(".")
    if action == "redirect":
        return f"admin:admin/{app_label}/{model_name}/<path:object_id>/"
    return f"admin:{app_label}_{model_name}_{action}"


# Objects of a model opened in more than one state (the variants of its rules).
APPLICATION = "applications.application"
ADMIN_VARIANTS = {APPLICATION: (SUBMITTED, DRAFT)}

for _label, _policy in ADMIN_MODELS.items():
    for _action, _rule in admin_model_rules(_policy).items():
        RULES[admin_model_key(_label, _action)] = {None: _rule}
# A draft is its candidate's only (Application.objects.visible_to): the ministry does
# not open it in the admin either; the superuser, who may delete it, does.
for _action, _rule in admin_model_rules(ADMIN_MODELS[APPLICATION]).items():
    RULES[admin_model_key(APPLICATION, _action)] = {SUBMITTED: _rule}
for _action, _rule in admin_model_rules(
    ADMIN_MODELS[APPLICATION], hidden_from=(MINISTRY, STAFF_NO_MEMBERSHIP)
).items():
    if _action not in ("changelist", "add"):
        RULES[admin_model_key(APPLICATION, _action)][DRAFT] = _rule
# Nobody edits an application in the admin: a POST to its change page is refused before
# the object is looked up.
_change = RULES[admin_model_key(APPLICATION, "change")][DRAFT]
RULES[admin_model_key(APPLICATION, "change")][DRAFT] = replace(
    _change, post={**(_change.post or {}), MINISTRY: DENIED}
)


# Known authorisation bugs, left unfixed: the rule says what should happen, and the
# check is expected to fail until the view is fixed. Key: (URL key, variant, persona as
# in the rule, method); value: the reason. (The bugs found so far are fixed.)
XFAIL: dict[tuple[str, str | None, str, str], str] = {}


# --- URLs: every pattern of the resolver, and how to fill its parameters ----------------


@dataclass(frozen=True)
class Pattern:
    key: str  # "namespace:name", or "namespace:<route>" for an unnamed pattern
    route: str
    name: str | None


def url_patterns(
    resolver: URLResolver | None = None, prefix: str = "", ns: str = ""
) -> Iterator[Pattern]:
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{ns}:{entry.namespace}" if ns and entry.namespace else entry.namespace or ns
            yield from url_patterns(entry, route, inner or "")
        elif isinstance(entry, URLPattern):
            name = f"{ns}:{entry.name}" if ns and entry.name else entry.name
            key = name or f"{ns}:{route}"
            yield Pattern(key=key, route=route, name=name)


def _application(side: Side, variant: str | None) -> Any:
    """The side's application of a variant (the submitted one by default)."""
    return {
        DRAFT: side.draft,
        REVIEW: side.review,
        APPROVED: side.approved,
        DECLARED: side.declared,
    }.get(variant or "", side.submitted)


def _evidence(side: Side, variant: str | None) -> Any:
    return side.draft_evidence if variant == DRAFT else side.evidence


UrlBuilder = Callable[[World, Side, str | None], str]


def _app_url(name: str) -> UrlBuilder:
    return lambda w, side, v: reverse(name, args=[_application(side, v).public_id])


def _application_of_file(w: World, side: Side, variant: str | None) -> Any:
    """The application a file is asked for under: its own, or (crossed) the other
    hospital's submitted one."""
    if variant == CROSSED:
        return _other(w, side).submitted
    return _application(side, variant)


def _evidence_url(name: str) -> UrlBuilder:
    def build(w: World, side: Side, v: str | None) -> str:
        evidence = _evidence(side, v)
        return reverse(name, args=[_application_of_file(w, side, v).public_id, evidence.public_id])

    return build


def _dossier_url(name: str) -> UrlBuilder:
    def build(w: World, side: Side, v: str | None) -> str:
        return reverse(
            name, args=[_application_of_file(w, side, v).public_id, side.dossier.public_id]
        )

    return build


def _other(w: World, side: Side) -> Side:
    return w.b if side is w.a else w.a


def _objective_evidence_url(w: World, side: Side, v: str | None) -> str:
    """The file of the approved application's objective; crossed: asked for under the
    other hospital's approved application."""
    application = _other(w, side).approved if v == CROSSED else side.approved
    return reverse(
        "applications:objective-evidence-delete",
        args=[application.public_id, side.objective_evidence.public_id],
    )


def _admin_object(w: World, label: str, variant: str | None) -> Any:
    if label == APPLICATION:
        return w.a.draft if variant == DRAFT else w.a.submitted
    return w.admin_objects[label]


URLS: dict[str, UrlBuilder] = {
    "accounts:password-reset-confirm": lambda w, s, v: reverse(
        "accounts:password-reset-confirm", args=["MQ", "set-password"]
    ),
    "establishments:legalentity-detail": lambda w, s, v: reverse(
        "establishments:legalentity-detail", args=[s.entity.public_id]
    ),
    "audits:volet1-detail": lambda w, s, v: reverse(
        "audits:volet1-detail", args=[s.entity.public_id]
    ),
    # Every application page whose only parameter is the application's.
    **{
        p.key: _app_url(p.key)
        for p in url_patterns()
        if p.key.startswith(("applications:", "instruction:")) and p.route.count("<") == 1
    },
    "applications:objective-save": lambda w, s, v: reverse(
        "applications:objective-save", args=[_application(s, v).public_id, s.objective.pk]
    ),
    "applications:objective-evidence-delete": _objective_evidence_url,
    "applications:evidence-download": _evidence_url("applications:evidence-download"),
    "applications:evidence-delete": _evidence_url("applications:evidence-delete"),
    "applications:dossier-download": _dossier_url("applications:dossier-download"),
    "applications:dossier-retry": _dossier_url("applications:dossier-retry"),
    # Monitoring: the place of the hospital (its region or département).
    "monitoring:region": lambda w, s, v: reverse("monitoring:region", args=[s.region.code]),
    "monitoring:region-report": lambda w, s, v: reverse(
        "monitoring:region-report", args=[s.region.code]
    ),
    "monitoring:department": lambda w, s, v: reverse(
        "monitoring:department", args=[s.entity.department.code]
    ),
    "monitoring:entities": lambda w, s, v: (
        reverse("monitoring:entities") + f"?region={s.region.code}"
    ),
    "monitoring:export": lambda w, s, v: (
        reverse("monitoring:export", args=str(v).split(".")) + f"?region={s.region.code}"
    ),
    "admin:autocomplete": lambda w, s, v: (
        reverse("admin:autocomplete")
        + "?app_label=accounts&model_name=membership&field_name=legal_entity&term=A"
    ),
    "admin:view_on_site": lambda w, s, v: reverse(
        "admin:view_on_site",
        args=[ContentType.objects.get_for_model(s.entity).pk, s.entity.pk],
    ),
    "admin:admin/(?P<url>.*)$": lambda w, s, v: "/admin/nothing-here/",
    "admin:app_list": lambda w, s, v: reverse("admin:app_list", args=[v]),
    "admin:auth_user_password_change": lambda w, s, v: reverse(
        "admin:auth_user_password_change", args=[w.admin_objects["accounts.user"].pk]
    ),
    "admin:otp_totp_totpdevice_config": lambda w, s, v: reverse(
        "admin:otp_totp_totpdevice_config", args=[w.admin_objects["otp_totp.totpdevice"].pk]
    ),
    "admin:otp_totp_totpdevice_qrcode": lambda w, s, v: reverse(
        "admin:otp_totp_totpdevice_qrcode", args=[w.admin_objects["otp_totp.totpdevice"].pk]
    ),
    # Approving A's application in national review (the link of its co-signature).
    "admin:applications_application_decide": lambda w, s, v: (
        reverse("admin:applications_application_decide", args=[decisions.APPROVE])
        + f"?ids={w.a.national.pk}"
    ),
    "admin:applications_application_decision_report": lambda w, s, v: reverse(
        "admin:applications_application_decision_report", args=[w.decision_job]
    ),
    "admin:applications_fundedapplication_payment": lambda w, s, v: reverse(
        "admin:applications_fundedapplication_payment", args=[_application(s, v).pk]
    ),
}


def _admin_model_url(label: str, action: str) -> UrlBuilder:
    app_label, model_name = label.split(".")

    def build(w: World, side: Side, v: str | None) -> str:
        if action in ("changelist", "add"):
            return reverse(f"admin:{app_label}_{model_name}_{action}")
        pk = _admin_object(w, label, v).pk
        if action == "redirect":
            return f"/admin/{app_label}/{model_name}/{pk}/"
        return reverse(f"admin:{app_label}_{model_name}_{action}", args=[pk])

    return build


for _label in ADMIN_MODELS:
    for _action in (*ADMIN_ACTIONS, "redirect"):
        URLS[admin_model_key(_label, _action)] = _admin_model_url(_label, _action)


# API
# The personal tokens' page (accounts) and the read-only API (api/). The API reads
# only a token (Authorization: Bearer): a session, whoever holds it, gets 401 (the
# tokens' own scoping is tested in tests/api/); its schema and docs are public.
UNAUTHENTICATED = "401"
RULES.update(
    {
        # An empty POST is an invalid form (a name is required): nothing is created.
        "accounts:api-tokens": {None: Rule(get=signed_in(), post=signed_in())},
        "accounts:api-token-revoke": {
            None: Rule(get=signed_in(NOT_ALLOWED), post=signed_in(NOT_FOUND))
        },
        "api:schema": {None: Rule(get=everyone())},
        "api:docs": {None: Rule(get=everyone())},
        **{
            f"api:{name}": {
                None: Rule(get=everyone(UNAUTHENTICATED), post=everyone(UNAUTHENTICATED))
            }
            for name in (
                "legal-entity-list",
                "legal-entity-detail",
                "application-list",
                "application-detail",
                "participation",
            )
        },
    }
)
URLS.update(
    {
        "api:legal-entity-detail": lambda w, s, v: reverse(
            "api:legal-entity-detail", args=[s.entity.public_id]
        ),
        "api:application-detail": lambda w, s, v: reverse(
            "api:application-detail", args=[s.submitted.public_id]
        ),
    }
)


def build_url(world: World, key: str, side: Side, variant: str | None) -> str:
    if key in URLS:
        return URLS[key](world, side, variant)
    return reverse(key)


# Scoped pages are also requested with B's objects (personas swapped); pages that
# are not about one hospital's objects only with A's.
SCOPED_PREFIXES = ("establishments:", "audits:", "applications:", "instruction:", "monitoring:")


def sides_of(key: str) -> tuple[str, ...]:
    scoped = key.startswith(SCOPED_PREFIXES) and key in URLS
    return ("a", "b") if scoped else ("a",)


# --- Parametrisation -----------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    key: str
    variant: str | None
    side: str
    persona: str
    method: str
    expected: str
    may_write: bool = False
    ends_session: bool = False

    @property
    def id(self) -> str:
        where = "" if self.variant is None else f"@{self.variant}"
        return f"{self.method} {self.key}{where} [{self.side}] {self.persona}"


def checks(*, two_factor: bool = False) -> Iterator[Any]:
    patterns = {p.key: p for p in url_patterns()}
    for key in patterns:
        for variant, rule in RULES.get(key, {}).items():
            # The two-factor middleware does not look at the object: A's are enough.
            for side in ("a",) if two_factor else sides_of(key):
                for method, table in (("GET", rule.get), ("POST", rule.post)):
                    if table is None:
                        continue
                    for persona in AGENTS if two_factor else PERSONAS:
                        rule_persona = MIRROR.get(persona, persona) if side == "b" else persona
                        expected = table[rule_persona]
                        check = Check(
                            key,
                            variant,
                            side,
                            persona,
                            method,
                            expected,
                            may_write=rule_persona in rule.writers,
                            ends_session=rule.ends_session,
                        )
                        reason = XFAIL.get((key, variant, rule_persona, method))
                        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                        yield pytest.param(check, id=check.id, marks=marks)


# --- Fixtures ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def territory():
    """Overrides the suite's: the module's world loads the territory once."""


@pytest.fixture(autouse=True)
def private_media():
    """Overrides the suite's: the module's world keeps its files for the whole module."""


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    media = tmp_path_factory.mktemp("matrix-media")
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media):
        atomic = transaction.atomic()
        atomic.__enter__()
        job = ""
        try:
            load_territory(Region, Department)
            world = build_world()
            job = world.decision_job
            yield world
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            if job:  # the report lives in the cache, which the rollback does not reach
                cache.delete(decision_jobs._key(job))


@pytest.fixture(scope="module")
def clients(world: World, django_db_blocker) -> dict[str, Client]:
    """One signed-in client per persona, reused by every check (its session is in the
    module's transaction)."""
    with django_db_blocker.unblock():
        result = {ANONYMOUS: Client()}
        for persona, user in world.users.items():
            result[persona] = Client()
            result[persona].force_login(user)
    return result


@pytest.fixture
def db(world: World) -> Iterator[None]:
    """Overrides pytest-django's `db` (whose name still tells it to set the test
    database up): each check in a savepoint of the module's transaction, rolled back
    after it, without the test case pytest-django builds for each test."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def client_for(check: Check, world: World, clients: dict[str, Client]) -> Client:
    if not check.ends_session or check.persona == ANONYMOUS:
        return clients[check.persona]
    # A request that logs out gets a client of its own (signed in inside the check's
    # savepoint), so that the shared one stays signed in.
    client = Client()
    client.force_login(world.users[check.persona])
    return client


# What an empty POST must not change: every row of the portal's tables.
FINGERPRINTED_APPS = ("accounts", "establishments", "audits", "applications", "otp_totp")
FINGERPRINTED_APPS += ("otp_static", "auth", "dsfr")


def fingerprint() -> tuple[Any, ...]:
    models = [
        model
        for label in FINGERPRINTED_APPS
        # With the many-to-many tables (a user's groups and permissions); without the
        # permissions themselves, which no page edits.
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy and model is not Permission
    ]
    if connection.vendor != "postgresql":
        return tuple(model._default_manager.count() for model in models)
    # Each table's rows as text, hashed: any row added, removed or changed shows.
    digest = "(SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {} t)"
    selects = [digest.format(connection.ops.quote_name(model._meta.db_table)) for model in models]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(selects))
        return tuple(cursor.fetchone())


def outcome_of(response: HttpResponse) -> str:
    status = response.status_code
    if status == 500:
        return "500"
    if status in (301, 302, 303, 307, 308):
        location = urlsplit(response["Location"])
        if "next=" in location.query:
            if location.path in (reverse("accounts:login"), reverse("admin:login")):
                return LOGIN
            if location.path.startswith("/accounts/double-authentification/"):
                return TWO_FACTOR
        if location.path == reverse("admin:index"):
            return ADMIN_INDEX
        return OK
    if 200 <= status < 300:
        return OK
    return str(status)


def matches(expected: str, response: HttpResponse) -> bool:
    outcome = outcome_of(response)
    status = response.status_code
    if expected == DENIED:
        return status in (403, 404)
    if expected == REJECTED:
        return status in (400, 404)
    if expected == NOT_FOUND:
        return status == 404
    if expected == NOT_ALLOWED:
        return status == 405
    return outcome == expected


def request(check: Check, world: World, clients: dict[str, Client]) -> HttpResponse:
    side = world.a if check.side == "a" else world.b
    url = build_url(world, check.key, side, check.variant)
    client = client_for(check, world, clients)
    client.raise_request_exception = False
    if check.method == "GET":
        return client.get(url)
    before = fingerprint()
    response = client.post(url, {})
    if not check.may_write:
        assert fingerprint() == before, f"{check.id}: an empty POST changed data ({url})"
    return response


def describe(check: Check, response: HttpResponse) -> str:
    location = f" -> {response['Location']}" if response.has_header("Location") else ""
    return (
        f"{check.method} {response.request['PATH_INFO']} ({check.key}) as {check.persona}: "
        f"expected {check.expected}, got {response.status_code}{location}"
    )


# --- Tests -------------------------------------------------------------------------------


def test_every_url_has_an_authorisation_rule():
    patterns = list(url_patterns())
    missing = [f"{p.key} ({p.route})" for p in patterns if p.key not in RULES]
    assert not missing, "new URL without an authorisation rule: " + ", ".join(missing)
    keys = {p.key for p in patterns}
    stale = [key for key in RULES if key not in keys]
    assert not stale, "rule of a URL that no longer exists: " + ", ".join(stale)
    registered = {model._meta.label_lower for model in admin.site._registry}
    assert registered == set(ADMIN_MODELS), "admin models and ADMIN_MODELS differ"


@pytest.mark.parametrize("check", list(checks()))
def test_authorisation(check: Check, world: World, clients: dict[str, Client], db):
    response = request(check, world, clients)
    assert response.status_code != 500, describe(check, response)
    assert matches(check.expected, response), describe(check, response)


@pytest.mark.parametrize("check", list(checks(two_factor=True)))
def test_agents_without_a_second_factor_reach_only_the_open_paths(
    check: Check, world: World, clients: dict[str, Client], db
):
    side = world.a if check.side == "a" else world.b
    url = build_url(world, check.key, side, check.variant)
    if not url.startswith(OPEN_PATHS):
        check = replace(check, expected=TWO_FACTOR, may_write=False)
    with override_settings(CARE_TWO_FACTOR_REQUIRED=True):
        response = request(check, world, clients)
    assert response.status_code != 500, describe(check, response)
    assert matches(check.expected, response), describe(check, response)
