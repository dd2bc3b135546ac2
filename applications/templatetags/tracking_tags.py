"""The tracking panel of an application page after approval: the stepper through the
steps to payment, the objectives deadline, the links of the user's next action and the
payments (applications/templates/applications/_tracking.html)."""

from typing import Any

from django import template

from ..lifecycle import Actor, actor_roles
from ..models import Application
from ..tracking import TRACKING_STATUSES, deadline_passed, summary_of, tracking_steps

register = template.Library()


@register.inclusion_tag("applications/_tracking.html", takes_context=True)
def tracking_panel(context: dict[str, Any], application: Application) -> dict[str, Any]:
    """Reads the application's transitions (prefetched by the page) and its payments
    (one query)."""
    if application.status not in TRACKING_STATUSES:
        return {"show": False}
    user = context["request"].user
    roles = actor_roles(user, application)
    steps = tracking_steps(application, application.transitions.all())
    index = next(i for i, step in enumerate(steps) if step.state == "current")
    payments = list(application.payments.order_by("paid_on", "created_at"))
    return {
        "show": True,
        "application": application,
        "steps": steps,
        "step": index + 1,
        "current_step": steps[index],
        "next_step": steps[index + 1] if index + 1 < len(steps) else None,
        "deadline": application.call.objectives_deadline,
        "deadline_passed": deadline_passed(application.call),
        "is_establishment": Actor.ESTABLISHMENT.value in roles,
        "is_regional": Actor.REGIONAL.value in roles,
        "payments": payments,
        "summary": summary_of(application, payments),
        "request": context["request"],
    }
