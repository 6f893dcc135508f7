"""Forms: they parse and check the shape of input; services decide the rest, and their `ApplicationError`
fields are put back on the form (`errors_to_form`) so a person sees the message beside the control."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from campaigns.csv_import import IGNORE, KEEP
from campaigns.models import Integration, WebhookEvent
from core.errors import ApplicationError
from core.models import Membership
from render.models import RenderStatus

HEX_COLOR = r"^#[0-9A-Fa-f]{6}$"
HEX_COLOR_MESSAGE = "Must be a colour as #RRGGBB."
BAD_JSON = "Not valid JSON: {error} (line {line}, column {column})."


def _color_field(label: str, initial: str) -> forms.RegexField:
    """A brand colour: the browser's colour picker, checked as #RRGGBB."""
    return forms.RegexField(
        HEX_COLOR,
        label=label,
        widget=forms.TextInput(attrs={"type": "color"}),
        error_messages={"invalid": HEX_COLOR_MESSAGE},
        initial=initial,
    )


class EmailAuthenticationForm(AuthenticationForm):
    """Django's sign-in form, with the username asked for as the email it is (`core.services.member_invite`)."""

    username = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autocomplete": "email"}))

    def clean_username(self) -> str:
        return str(self.cleaned_data["username"]).strip().lower()


def errors_to_form(form: forms.Form, exc: ApplicationError, aliases: dict[str, str] | None = None) -> None:
    """Put a service's field errors on the form fields they name (`colors.primary` → `color_primary` through
    `aliases`); anything else becomes a form-wide error, so no message is lost."""
    aliases = aliases or {}
    placed = False
    for path, messages in exc.fields.items():
        name = aliases.get(path, path)
        for message in messages:
            if name in form.fields:
                form.add_error(name, message)
            else:
                form.add_error(None, f"{path}: {message}" if path else message)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


class BrandForm(forms.Form):
    name = forms.CharField(max_length=100)
    color_primary = _color_field("Primary colour", "#1F3A93")
    color_secondary = _color_field("Secondary colour", "#FF7A00")
    color_text = _color_field("Text colour", "#FFFFFF")

    def colors(self) -> dict[str, str]:
        data = self.cleaned_data
        return {
            "primary": data["color_primary"],
            "secondary": data["color_secondary"],
            "text": data["color_text"],
        }


BRAND_ERROR_ALIASES = {f"colors.{k}": f"color_{k}" for k in ("primary", "secondary", "text")}


class AssetUploadForm(forms.Form):
    kind = forms.ChoiceField(
        label="Kind",
        choices=[
            ("logo", "Logo"),
            ("image", "Image"),
            ("font", "Font"),
            ("music", "Music"),
            ("video", "Video"),
        ],
    )
    file = forms.FileField(label="File")


class SpecField(forms.CharField):
    """A JSON document typed by a person: parsed here; its meaning is checked by the spec validator."""

    widget = forms.Textarea(attrs={"rows": 24, "spellcheck": "false", "class": "code"})

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if not text:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                BAD_JSON.format(error=exc.msg, line=exc.lineno, column=exc.colno)
            ) from None

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict | list):
            return json.dumps(value, indent=2, ensure_ascii=False)
        return value


class TemplateCreateForm(forms.Form):
    name = forms.CharField(max_length=100)
    spec = SpecField(label="Spec (JSON)")


class TemplateVersionForm(forms.Form):
    spec = SpecField(label="Spec (JSON)")


class CampaignCreateForm(forms.Form):
    name = forms.CharField(max_length=100)
    template = forms.ChoiceField(label="Template")
    version = forms.IntegerField(
        label="Version", required=False, min_value=1, help_text="Empty: the template's latest version."
    )
    brand = forms.ChoiceField(label="Brand")
    schedule_cron = forms.CharField(
        label="Schedule (cron)",
        required=False,
        max_length=100,
        help_text="Optional, e.g. 0 9 * * 1 (Mondays at 9:00). Empty: launch renders everyone at once.",
    )
    schedule_timezone = forms.CharField(label="Time zone", required=False, max_length=64, initial="UTC")

    def __init__(
        self, *args: Any, templates: list[tuple[str, str]], brands: list[tuple[str, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = templates  # type: ignore[attr-defined]  # a ChoiceField
        self.fields["brand"].choices = brands  # type: ignore[attr-defined]  # a ChoiceField


CAMPAIGN_ERROR_ALIASES = {"schedule.cron": "schedule_cron", "schedule.timezone": "schedule_timezone"}


class RecipientsUploadForm(forms.Form):
    file = forms.FileField(
        label="Recipients CSV",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv,text/plain", "data-dropzone": "1"}),
    )


class SamplesForm(forms.Form):
    # The API's default and cap (campaigns.apis DEFAULT_SAMPLES, MAX_SAMPLES).
    count = forms.IntegerField(label="Samples", min_value=1, max_value=20, initial=3)


class RequestChangesForm(forms.Form):
    comment = forms.CharField(
        label="What should change", max_length=400, widget=forms.Textarea(attrs={"rows": 3})
    )


class RenderFilterForm(forms.Form):
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any"), *RenderStatus.choices])
    campaign = forms.ChoiceField(label="Campaign", required=False)
    date = forms.DateField(label="Date", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, campaigns: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["campaign"].choices = [("", "Any"), *campaigns]  # type: ignore[attr-defined]  # a ChoiceField


class WebhookCreateForm(forms.Form):
    url = forms.URLField(label="URL", max_length=2000, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label="Events", choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple
    )


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(label="Key name", max_length=100)


class MemberInviteForm(forms.Form):
    email = forms.EmailField(label="Email")
    role = forms.ChoiceField(label="Role", choices=Membership.Role.choices, initial=Membership.Role.EDITOR)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Membership.Role.choices)


class CheckoutForm(forms.Form):
    plan = forms.CharField(max_length=50)


class RecipientsMappingForm(forms.Form):
    """The column-mapping step: each CSV column read as a variable, `email`, `external_id`, kept as a
    recipient field, or ignored (campaigns.csv_import). The upload waits in storage under `upload`."""

    upload = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(
        self, *args: Any, header: list[str], targets: list[str], samples: list[list[str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        choices = [
            *((target, f"{target}") for target in targets),
            (KEEP, "Keep as a recipient field"),
            (IGNORE, "Ignore this column"),
        ]
        self.columns: list[tuple[str, str, list[str]]] = []
        # Per column key, why it needs a person's choice (it matched nothing): shown beside its control.
        self.unknown: dict[str, str] = {}
        for index, name in enumerate(header):
            key = f"column_{index}"
            self.fields[key] = forms.ChoiceField(label=name or f"Column {index + 1}", choices=choices)
            self.columns.append((key, name, [row[index] for row in samples if index < len(row)]))

    def rows(self) -> list[tuple[Any, str, list[str], str]]:
        """(the column's control, its name, its first cells, why it needs a choice) for the template."""
        return [(self[key], name, samples, self.unknown.get(key, "")) for key, name, samples in self.columns]

    def mapping(self, header: list[str]) -> dict[str, str]:
        return {name: self.cleaned_data[f"column_{index}"] for index, name in enumerate(header)}


class PreviewForm(forms.Form):
    """Sample values for a template's preview (defaults pre-filled), one format or all, and a brand."""

    format = forms.ChoiceField(label="Format", required=False)
    brand = forms.ChoiceField(label="Brand")

    def __init__(
        self,
        *args: Any,
        variables: dict[str, dict[str, Any]],
        samples: dict[str, str],
        formats: list[str],
        brands: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        for name, decl in variables.items():
            self.fields[f"value_{name}"] = forms.CharField(
                label=name,
                required=False,
                max_length=int(decl.get("max_length", 200)),
                initial=samples.get(name, ""),
                help_text="Required in a render." if decl.get("required") else "",
            )
            self.initial.setdefault(f"value_{name}", samples.get(name, ""))
        self.fields["format"].choices = [("", "Every format"), *((f, f) for f in formats)]  # type: ignore[attr-defined]  # a ChoiceField
        self.fields["brand"].choices = brands  # type: ignore[attr-defined]  # a ChoiceField
        self.variable_fields = [self[f"value_{name}"] for name in variables]

    def values(self) -> dict[str, str]:
        return {
            key.removeprefix("value_"): value
            for key, value in self.cleaned_data.items()
            if key.startswith("value_") and value
        }


class IntegrationCreateForm(forms.Form):
    kind = forms.ChoiceField(
        label="CRM",
        choices=[
            (Integration.Kind.HUBSPOT, "HubSpot"),
            (Integration.Kind.SALESFORCE, "Salesforce"),
            (Integration.Kind.GENERIC, "Another CRM (signed HTTP call)"),
        ],
    )
    name = forms.CharField(label="Name", max_length=100, required=False)
    template = forms.ChoiceField(label="Template")
    brand = forms.ChoiceField(label="Brand")
    field_map = forms.CharField(
        label="Field map",
        widget=forms.Textarea(attrs={"rows": 4, "class": "code short"}),
        help_text="One line per CRM property: property = variable, e.g. firstname = first_name.",
    )
    callback_url = forms.URLField(
        label="Callback URL", required=False, max_length=2000, assume_scheme="https"
    )

    def __init__(
        self, *args: Any, templates: list[tuple[str, str]], brands: list[tuple[str, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = templates  # type: ignore[attr-defined]  # a ChoiceField
        self.fields["brand"].choices = brands  # type: ignore[attr-defined]  # a ChoiceField

    def clean_field_map(self) -> dict[str, str]:
        pairs: dict[str, str] = {}
        for number, line in enumerate(str(self.cleaned_data["field_map"]).splitlines(), start=1):
            if not line.strip():
                continue
            prop, sep, variable = line.partition("=")
            if not sep or not prop.strip() or not variable.strip():
                raise forms.ValidationError(f"Line {number}: write it as property = variable.")
            pairs[prop.strip()] = variable.strip()
        if not pairs:
            raise forms.ValidationError("Map at least one CRM property to a variable.")
        return pairs
