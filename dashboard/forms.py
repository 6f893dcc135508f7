"""Forms: they parse and check the shape of input; services decide the rest, and their `ApplicationError`
fields are put back on the form (`errors_to_form`) so a person sees the message beside the control."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone

from campaigns.csv_import import IGNORE, KEEP
from campaigns.models import Integration, WebhookEvent
from core.errors import ApplicationError
from core.models import Consent, Membership
from render.models import RenderStatus
from templates.moderator import BUILTIN_LANGUAGES

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


# A kind whose upload is a real person's likeness (docs/trust.md): it names their consent.
LIKENESS_KINDS = ("portrait", "voice")
SHOWS_PERSON_NOT_VIDEO = "Only footage (kind video) is flagged as showing a person."


class AssetUploadForm(forms.Form):
    """A brand upload. A portrait, a voice, or footage that shows a person names one of the workspace's
    active consents (`consents`: (id, label) pairs); the service checks it covers the brand and the use."""

    kind = forms.ChoiceField(
        label="Kind",
        choices=[
            ("logo", "Logo"),
            ("image", "Image"),
            ("font", "Font"),
            ("music", "Music"),
            ("video", "Video"),
            ("portrait", "Portrait of a person"),
            ("voice", "Voice of a person"),
        ],
    )
    file = forms.FileField(label="File")
    shows_person = forms.BooleanField(
        label="The video shows a real person", required=False, help_text="Then it needs their consent."
    )
    consent = forms.ChoiceField(
        label="Consent",
        required=False,
        help_text="For a portrait, a voice, or video that shows a person: the consent recorded on the "
        "Consents page.",
    )

    def __init__(self, *args: Any, consents: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["consent"].choices = [("", "None"), *consents]  # type: ignore[attr-defined]  # a ChoiceField

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("shows_person") and data.get("kind") != "video":
            self.add_error("shows_person", SHOWS_PERSON_NOT_VIDEO)
        return data


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


# "Name — role": an em dash, an en dash, or a hyphen with spaces around it (names keep their own hyphens).
AUTHOR_SEPARATORS = ("\N{EM DASH}", "\N{EN DASH}", " - ")
AUTHOR_LINE = "Line {line}: write it as Name \N{EM DASH} role."


class AuthorsField(forms.CharField):
    """A version's credits typed one per line, `Name — role`, parsed into [{name, role, line}]: `authors_split`
    hands the service its [{name, role}] (it checks each) and keeps the lines to name in its errors."""

    widget = forms.Textarea(attrs={"rows": 3, "spellcheck": "false"})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", "Authors")
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "help_text",
            "Credited in every video made with this version, one per line: Name \N{EM DASH} role "
            "(Ana Ruiz \N{EM DASH} design).",
        )
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        authors: list[dict[str, Any]] = []
        for number, line in enumerate(str(text or "").splitlines(), start=1):
            if not line.strip():
                continue
            for separator in AUTHOR_SEPARATORS:
                name, found, role = line.partition(separator)
                if found:
                    break
            if not found:
                raise forms.ValidationError(AUTHOR_LINE.format(line=number))
            authors.append({"name": name.strip(), "role": role.strip(), "line": number})
        return authors

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "\n".join(f"{a.get('name', '')} \N{EM DASH} {a.get('role', '')}" for a in value)
        return value


def authors_split(authors: list[dict[str, Any]]) -> tuple[list[dict[str, str]], list[int]]:
    """(the authors as the service takes them, the line each was typed on)."""
    return (
        [{"name": a["name"], "role": a["role"]} for a in authors],
        [int(a["line"]) for a in authors],
    )


class TemplateCreateForm(forms.Form):
    name = forms.CharField(max_length=100)
    spec = SpecField(label="Spec (JSON)")
    authors = AuthorsField()


class TemplateVersionForm(forms.Form):
    spec = SpecField(label="Spec (JSON)")
    authors = AuthorsField()


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
        label="Recipients CSV (or a zip of the CSV and its pictures)",
        widget=forms.ClearableFileInput(
            attrs={"accept": ".csv,text/csv,text/plain,.zip,application/zip", "data-dropzone": "1"}
        ),
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


class ModerationForm(forms.Form):
    """A workspace's moderation choices; the lists one word or phrase per line (docs/trust.md)."""

    languages = forms.MultipleChoiceField(
        label="Built-in word lists",
        choices=[(code, code) for code in BUILTIN_LANGUAGES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="The languages whose lists apply. Lists of several languages collide (Turkish lists 'am').",
    )
    block = forms.CharField(
        label="Block list",
        widget=forms.Textarea(attrs={"rows": 8}),
        required=False,
        strip=False,
        help_text="Refused on top of the built-in lists: one word or phrase per line.",
    )
    allow = forms.CharField(
        label="Allow list",
        widget=forms.Textarea(attrs={"rows": 8}),
        required=False,
        strip=False,
        help_text="Not refused by the built-in lists where they occur: one word or phrase per line.",
    )


# --- trust: the audit log and consents (docs/trust.md) ----------------------------------------------------------

# Suggestions offered under the audit filter's free-text fields (any value is accepted: an action or a family
# ending in a dot, as the API takes them). The families are the first word of every action services record.
AUDIT_ACTION_FAMILIES = (
    "api_key.",
    "auth.",
    "brand.",
    "brand_asset.",
    "campaign.",
    "consent.",
    "credits.",
    "integration.",
    "member.",
    "moderation.",
    "recipient.",
    "render.",
    "template.",
    "webhook.",
    "workspace.",
)
AUDIT_OBJECT_TYPES = (
    "api_key",
    "brand",
    "brand_asset",
    "campaign",
    "consent",
    "credit_entry",
    "integration",
    "member",
    "moderation",
    "recipient",
    "render",
    "template",
    "user",
    "webhook",
    "workspace",
)
SINCE_AFTER_UNTIL = "Must not be after the end date."


class AuditFilterForm(forms.Form):
    """The audit log's filters, as a GET form; the same ones `GET /api/v1/audit/` takes (dates here are whole
    days in the site's time zone: `until` counts its whole day)."""

    actor = forms.CharField(
        label="Who",
        required=False,
        max_length=200,
        help_text="user:<email>, api-key:<prefix> or system.",
    )
    action = forms.CharField(
        label="Action", required=False, max_length=64, help_text="campaign.approved, or a family: campaign."
    )
    object_type = forms.CharField(label="Object type", required=False, max_length=64)
    object_id = forms.CharField(label="Object id", required=False, max_length=100)
    since = forms.DateField(label="Since", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(
        label="Until",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="That day included.",
    )

    def __init__(self, *args: Any, actors: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (the datalist's id, its suggestions) per field, for the template.
        self.suggestions = {
            "actor": ("actors", actors),
            "action": ("actions", list(AUDIT_ACTION_FAMILIES)),
            "object_type": ("object-types", list(AUDIT_OBJECT_TYPES)),
        }
        for name, (list_id, _) in self.suggestions.items():
            self.fields[name].widget.attrs["list"] = list_id

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("since", SINCE_AFTER_UNTIL)
        return data

    def filters(self) -> dict[str, Any]:
        """core.audit.audit_list's keyword arguments: days as the times they start (`until`: the next day's)."""
        data = self.cleaned_data
        zone = timezone.get_current_timezone()
        since, until = data.get("since"), data.get("until")
        return {
            "actor": data.get("actor") or None,
            "action": data.get("action") or None,
            "object_type": data.get("object_type") or None,
            "object_id": data.get("object_id") or None,
            "since": datetime.combine(since, time.min, tzinfo=zone) if since else None,
            "until": datetime.combine(until + timedelta(days=1), time.min, tzinfo=zone) if until else None,
        }


class ConsentForm(forms.Form):
    """A person's consent to use their likeness, with its evidence (core.consent.consent_create checks it)."""

    person_name = forms.CharField(label="Person", max_length=200, help_text="Whose face or voice it is.")
    brands = forms.MultipleChoiceField(
        label="Brands", widget=forms.CheckboxSelectMultiple, help_text="The brands they agreed to appear for."
    )
    uses = forms.MultipleChoiceField(
        label="Uses",
        choices=[
            (Consent.Use.PORTRAIT, "Portrait (pictures of them)"),
            (Consent.Use.VOICE, "Voice (recordings of their voice)"),
            (Consent.Use.VIDEO, "Video (footage that shows them)"),
        ],
        widget=forms.CheckboxSelectMultiple,
    )
    valid_until = forms.DateTimeField(
        label="Valid until (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Empty: until revoked.",
    )
    evidence = forms.FileField(
        label="Evidence",
        help_text="The signed document (PDF, PNG or JPEG) or their recorded statement (audio, or a video of "
        "at most 60 seconds).",
    )
    collected_by = forms.CharField(
        label="Collected by", max_length=200, required=False, help_text="Empty: you."
    )

    def __init__(self, *args: Any, brands: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["brands"].choices = brands  # type: ignore[attr-defined]  # a MultipleChoiceField


class ConsentRevokeForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=500, required=False)
