"""Plain forms for the workshop pages. They check shape; the services check the rules."""

from __future__ import annotations

from django import forms
from django.db.models import QuerySet
from django.utils.formats import date_format

from boards.forms import add_service_errors
from boards.journey_templates import DEFAULT_TEMPLATE, TEMPLATES, template_choices
from workshops.invitations import DISPLAY_NAME_MAX
from workshops.models import BusinessFunction, Persona, Role, Workshop, WorkshopStatus

__all__ = [
    "InvitationForm",
    "JoinForm",
    "MemberAddForm",
    "MemberEditForm",
    "PersonaForm",
    "ScenarioCreateForm",
    "ScenarioEditForm",
    "TeamCreateForm",
    "TeamForm",
    "WorkshopCreateForm",
    "WorkshopEditForm",
    "add_service_errors",
]

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PageForm(forms.Form):
    """A form whose element ids carry its own prefix, so two forms can share a page."""

    id_prefix = "id"

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)


class TeamForm(PageForm):
    id_prefix = "team"

    name = forms.CharField(
        max_length=120,
        label="Team name",
        help_text="For example the maison and city: “Maison Horlogère, Geneva”.",
    )


class TeamCreateForm(TeamForm):
    display_name = forms.CharField(
        max_length=60,
        required=False,
        label="Your name in this team",
        help_text="Leave empty to use your account name.",
    )
    business_function = forms.ChoiceField(
        choices=BusinessFunction.choices,
        label="Your business function",
        help_text="The part of the maison you speak for in its workshops.",
    )


class MemberEditForm(PageForm):
    id_prefix = "member"

    display_name = forms.CharField(max_length=60, required=False, label="Name shown to the team")
    role = forms.ChoiceField(
        choices=Role.choices,
        help_text=(
            "Facilitators run workshops; participants add notes; managers follow up on actions."
        ),
    )
    business_function = forms.ChoiceField(
        choices=BusinessFunction.choices, label="Business function"
    )


class MemberAddForm(MemberEditForm):
    username = forms.CharField(
        max_length=150,
        help_text="What they type to sign in: letters, digits and @ . + - _ only.",
        widget=forms.TextInput(
            attrs={"autocapitalize": "none", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    password = forms.CharField(
        strip=False,
        label="First password",
        help_text="Give it to them in person; at least 8 characters, not a common one.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    field_order = ["username", "display_name", "role", "business_function", "password"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].initial = Role.PARTICIPANT


class WorkshopChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Workshop) -> str:
        return f"{obj.title} · {date_format(obj.date, 'j M Y')}"


class _WorkshopFields(PageForm):
    id_prefix = "workshop"

    title = forms.CharField(max_length=160)
    date = forms.DateField(widget=DATE_WIDGET)
    follows_up = WorkshopChoiceField(
        queryset=Workshop.objects.none(),
        required=False,
        empty_label="— Nothing, it's a first workshop —",
        label="Follows up",
        help_text="An earlier workshop of this team whose decisions this one reviews.",
    )

    def __init__(self, *args, earlier: QuerySet[Workshop], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["follows_up"].queryset = earlier


class WorkshopCreateForm(_WorkshopFields):
    pass


class WorkshopEditForm(_WorkshopFields):
    status = forms.ChoiceField(choices=WorkshopStatus.choices)
    field_order = ["title", "date", "status", "follows_up"]


class WorkshopStatusForm(forms.Form):
    """Go live, close or reopen, from the workshop's page: the status alone."""

    status = forms.ChoiceField(choices=WorkshopStatus.choices)


class PersonaForm(PageForm):
    id_prefix = "persona"

    name = forms.CharField(
        max_length=80, help_text="A first name makes the persona easy to talk about: “Camille”."
    )
    segment = forms.CharField(
        max_length=60,
        help_text="Window shopper, first-time buyer, patron, VIC… or your own words.",
        widget=forms.TextInput(attrs={"list": "segment-options", "autocomplete": "off"}),
    )
    goals = forms.CharField(
        max_length=2000,
        required=False,
        help_text="What they want to achieve: “Buy a first fine watch for a milestone”.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    expectations = forms.CharField(
        max_length=2000,
        required=False,
        help_text="What they expect from the maison at each touchpoint.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    bio = forms.CharField(
        max_length=600,
        required=False,
        label="Short bio",
        help_text="Demographics, behaviour, preferences: up to 600 characters.",
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class _ScenarioFields(PageForm):
    id_prefix = "scenario"

    title = forms.CharField(
        max_length=160, help_text="A customer scenario everyone knows: “Buying a first fine watch”."
    )
    description = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    persona = forms.ModelChoiceField(
        queryset=Persona.objects.none(),
        required=False,
        empty_label="— No persona —",
        help_text="Whose journey the board maps.",
    )

    def __init__(self, *args, personas: QuerySet[Persona], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["persona"].queryset = personas


def _template_label(key: str, name: str) -> str:
    template = TEMPLATES.get(key)
    return f"{name}: {template.description}" if template else f"{name}: start with an empty board."


class ScenarioCreateForm(_ScenarioFields):
    template = forms.ChoiceField(
        choices=[(key, _template_label(key, name)) for key, name in template_choices()],
        required=False,
        initial=DEFAULT_TEMPLATE,
        label="Start from",
        widget=forms.RadioSelect,
    )
    field_order = ["title", "persona", "template", "description"]


class ScenarioEditForm(_ScenarioFields):
    field_order = ["title", "persona", "description"]


INVITATION_HOURS = [
    (1, "1 hour"),
    (4, "4 hours"),
    (24, "24 hours"),
    (72, "3 days"),
    (168, "7 days"),
]


class InvitationForm(PageForm):
    id_prefix = "invitation"

    hours = forms.TypedChoiceField(
        choices=INVITATION_HOURS,
        coerce=int,
        initial=24,
        label="The link works for",
        help_text="Long enough for the session; anyone with the link can join until then.",
    )


class JoinForm(PageForm):
    id_prefix = "join"

    display_name = forms.CharField(
        # The service cleans the name and caps it; the browser stops at the same length.
        max_length=200,
        label="Your name",
        help_text="How the others will see you on the board, such as “Léa, Geneva boutique”.",
        widget=forms.TextInput(attrs={"autocomplete": "name", "autocapitalize": "words"}),
    )
    business_function = forms.ChoiceField(
        choices=BusinessFunction.choices,
        initial=BusinessFunction.BOUTIQUE,
        label="Where you work",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["display_name"].widget.attrs["maxlength"] = DISPLAY_NAME_MAX
