"""Labels of the values the monitoring lists carry as plain strings (annotations)."""

from django import template

from applications.lifecycle import Status
from audits.models import Volet1Level

register = template.Library()


@register.filter
def status_label(value: str) -> str:
    try:
        return str(Status(value).label)
    except ValueError:
        return value


@register.filter
def volet1_label(value: str) -> str:
    try:
        return str(Volet1Level(value).label)
    except ValueError:
        return value
