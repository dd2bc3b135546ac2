"""Template filters of the DSFR crispy-forms pack: widget classes and ARIA wiring.

The ids follow Django's own convention (``<auto_id>_helptext``, ``<auto_id>_error``)
so that a field rendered with plain ``{{ field }}`` points at the same messages.
"""

from django import forms, template
from django.forms import BoundField
from django.utils.safestring import SafeString

register = template.Library()

# Widget kinds the templates switch on; each maps to one DSFR component.
CHECKBOX = "checkbox"
CHECKBOXES = "checkboxes"
RADIO = "radio"
SELECT = "select"
FILE = "file"
HIDDEN = "hidden"
INPUT = "input"

# The class DSFR expects on the control itself, and its error modifier.
WIDGET_CLASSES = {
    INPUT: ("fr-input", "fr-input--error"),
    SELECT: ("fr-select", "fr-select--error"),
    FILE: ("fr-upload", ""),
}


@register.filter
def dsfr_widget_kind(field: BoundField) -> str:
    """The DSFR component a bound field is rendered with."""
    widget = field.field.widget
    if widget.is_hidden:
        return HIDDEN
    if isinstance(widget, forms.CheckboxSelectMultiple):
        return CHECKBOXES
    if isinstance(widget, forms.RadioSelect):
        return RADIO
    if isinstance(widget, forms.CheckboxInput):
        return CHECKBOX
    if isinstance(widget, forms.Select):  # SelectMultiple and NullBooleanSelect too
        return SELECT
    if isinstance(widget, forms.FileInput):
        return FILE
    return INPUT


@register.filter
def dsfr_error_id(field: BoundField) -> str:
    return f"{field.auto_id}_error"


@register.filter
def dsfr_help_id(field: BoundField) -> str:
    return f"{field.auto_id}_helptext"


@register.filter
def add_dsfr_class(field: BoundField, show_errors: object = True) -> SafeString:
    """Render the field's widget with the DSFR class of its kind and, when it has
    errors that are shown, ``aria-invalid`` and ``aria-describedby`` pointing at them
    (RGAA 11.10: an error message is tied to its field).

    ``show_errors`` is the crispy ``form_show_errors`` flag: only an explicit ``False``
    hides the errors (a missing flag renders as an empty string).
    """
    kind = dsfr_widget_kind(field)
    widget = field.field.widget
    attrs: dict[str, str | bool] = {}
    has_errors = bool(field.errors) and show_errors is not False
    if kind in WIDGET_CLASSES:
        base, error = WIDGET_CLASSES[kind]
        classes = str(widget.attrs.get("class", "")).split()
        for css_class in (base, error if has_errors else ""):
            if css_class and css_class not in classes:
                classes.append(css_class)
        attrs["class"] = " ".join(classes)
    if kind in (RADIO, CHECKBOXES):
        # Each option is described by the fieldset (legend and messages), not by itself.
        return SafeString(field.as_widget(attrs=attrs))
    described_by = []
    if widget.attrs.get("aria-describedby"):
        described_by.append(str(widget.attrs["aria-describedby"]))
    elif field.help_text and field.auto_id:
        described_by.append(dsfr_help_id(field))
    if has_errors and field.auto_id:
        attrs["aria-invalid"] = "true"
        described_by.append(dsfr_error_id(field))
    if described_by:
        attrs["aria-describedby"] = " ".join(described_by)
    return SafeString(field.as_widget(attrs=attrs))


@register.filter
def dsfr_has_required_fields(form: forms.BaseForm) -> bool:
    """Whether the form shows a required field (to explain the asterisk once)."""
    fields = getattr(form, "fields", None) or {}
    return any(f.required and not f.widget.is_hidden and not f.disabled for f in fields.values())
