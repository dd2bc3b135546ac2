"""The audit trail: `record()` writes one append-only `AuditEvent`; the receivers
below record what the accounts app sees itself (logins, failures, lockouts, logouts,
admin changes). Apps above call `record()` for their own events (transitions,
decisions, downloads, exports)."""

from typing import Any

from django.db import models
from django.http import HttpRequest

from .models import AuditEvent, User

Action = AuditEvent.Action


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record(
    action: str,
    *,
    request: HttpRequest | None = None,
    actor: Any = None,
    obj: models.Model | None = None,
    actor_email: str = "",
    **details: Any,
) -> AuditEvent:
    """Write one event. The actor defaults to the request's signed-in user; the object
    is named by its type and public id (or primary key)."""
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        actor = user if user is not None and user.is_authenticated else None
    object_type = object_id = ""
    if obj is not None:
        object_type = obj._meta.label
        object_id = str(getattr(obj, "public_id", None) or obj.pk)
    return AuditEvent.objects.create(
        actor=actor if isinstance(actor, User) else None,
        actor_email=actor_email or (actor.email if isinstance(actor, User) else ""),
        ip_address=client_ip(request),
        action=action,
        object_type=object_type,
        object_id=object_id,
        details={key: value for key, value in details.items() if value not in (None, "")},
    )


def connect_receivers() -> None:
    """Called once from `AccountsConfig.ready()`."""
    from axes.signals import user_locked_out
    from django.contrib.admin.models import LogEntry
    from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
    from django.db.models.signals import post_save

    def on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        # A ProConnect login says so, with the eIDAS level (accounts/proconnect.py).
        method = getattr(user, "login_method", None)
        acr = getattr(user, "login_acr", None)
        record(Action.LOGIN, request=request, actor=user, method=method, acr=acr)

    def on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        if user is not None:
            record(Action.LOGOUT, request=request, actor=user)

    def on_failure(sender: Any, credentials: Any, request: Any = None, **kwargs: Any) -> None:
        if "nonce" in (credentials or {}):
            return  # a ProConnect callback: its view records the failure with the reason
        email = str((credentials or {}).get("username") or "").strip().lower()[:254]
        record(Action.LOGIN_FAILED, request=request, actor_email=email)

    def on_lockout(sender: Any, request: Any, username: Any = None, **kwargs: Any) -> None:
        email = str(username or "").strip().lower()[:254]
        record(Action.LOCKOUT, request=request, actor_email=email)

    def on_admin_change(sender: Any, instance: LogEntry, created: bool, **kwargs: Any) -> None:
        if created:
            content_type: Any = instance.content_type
            model = content_type.model_class() if content_type else None
            AuditEvent.objects.create(
                actor_id=instance.user_id,
                action=Action.ADMIN_CHANGE,
                object_type=model._meta.label if model else "",
                object_id=str(instance.object_id or "")[:80],
                details={
                    "flag": instance.get_action_flag_display(),
                    "object": instance.object_repr,
                    "change": instance.get_change_message(),
                },
            )

    for signal, receiver in (
        (user_logged_in, on_login),
        (user_logged_out, on_logout),
        (user_login_failed, on_failure),
        (user_locked_out, on_lockout),
    ):
        signal.connect(receiver, weak=False, dispatch_uid=f"accounts.audit.{receiver.__name__}")
    post_save.connect(
        on_admin_change, sender=LogEntry, weak=False, dispatch_uid="accounts.audit.admin"
    )
