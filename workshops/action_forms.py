"""Plain forms for the action pages. They check shape; the services check the rules."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django import forms
from django.utils import timezone
from django.utils.formats import date_format

from workshops.models import ActionStatus, Membership, Workshop

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

# "Still open" is open or in progress: what a review meeting goes through.
STILL_OPEN = "active"
STATUS_FILTERS = [("", "Any status"), (STILL_OPEN, "Open or in progress"), *ActionStatus.choices]


def _int_choice(label: str, choices: list[tuple[str, str]]) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        choices=[("", f"Any {label.lower()}"), *choices],
        coerce=int,
        empty_value=None,
        required=False,
    )


class ActionFilterForm(forms.Form):
    """The Actions page's filters, read from the query string (so a filtered list can be shared,
    bookmarked and exported as it is)."""

    owner = _int_choice("Owner", [])
    status = forms.ChoiceField(label="Status", choices=STATUS_FILTERS, required=False)
    workshop = _int_choice("Workshop", [])
    phase = forms.ChoiceField(label="Phase", required=False)
    overdue = forms.BooleanField(label="Overdue only", required=False)

    def __init__(
        self,
        *args,
        members: Iterable[Membership],
        workshops: Iterable[Workshop],
        phase_names: Iterable[str],
        **kwargs,
    ) -> None:
        kwargs.setdefault("auto_id", "filter_%s")
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", "Anyone")] + [
            (str(m.pk), f"{m.name} · {m.get_business_function_display()}") for m in members
        ]
        self.fields["workshop"].choices = [("", "Any workshop")] + [
            (str(w.pk), f"{w.title} · {date_format(w.date, 'j M Y')}") for w in workshops
        ]
        self.fields["phase"].choices = [("", "Any phase")] + [(name, name) for name in phase_names]

    def filters(self) -> dict:
        """The valid filters; a wrong value (an old link, a typo) is left out, not fatal."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "", False)}


class ActionStatusForm(forms.Form):
    status = forms.ChoiceField(label="Status", choices=ActionStatus.choices)
    comment = forms.CharField(
        label="Comment",
        max_length=1000,
        required=False,
        help_text="What was done, what blocks it, what comes next. Kept in the history.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", "status_%s")
        super().__init__(*args, **kwargs)


class ActionReplanForm(forms.Form):
    """Who does it, by when, under which title: for managers and facilitators."""

    title = forms.CharField(label="Action", max_length=200)
    owner = forms.TypedChoiceField(label="Owner", coerce=int)
    due_date = forms.DateField(label="Due", widget=DATE_WIDGET)
    comment = forms.CharField(
        label="Why",
        max_length=1000,
        required=False,
        help_text="Kept in the history with what changed.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)

    def __init__(
        self, *args, members: Iterable[Membership] = (), due: datetime.date | None = None, **kwargs
    ) -> None:
        kwargs.setdefault("auto_id", "replan_%s")
        super().__init__(*args, **kwargs)
        # The picker offers no past day, except the action's own (an overdue date may stay).
        earliest = min(filter(None, [timezone.localdate(), due]))
        self.fields["due_date"].widget = forms.DateInput(
            attrs={"type": "date", "min": earliest.isoformat()}, format="%Y-%m-%d"
        )
        self.fields["owner"].choices = [
            (m.pk, f"{m.name} · {m.get_business_function_display()}") for m in members
        ]


class PlanNextForm(forms.Form):
    title = forms.CharField(
        label="Title of the next session",
        max_length=160,
        help_text="For example “Follow-up: first visit to delivery”.",
    )
    date = forms.DateField(label="Date", widget=DATE_WIDGET)

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", "next_%s")
        super().__init__(*args, **kwargs)


class CalendarResetForm(forms.Form):
    team = forms.IntegerField(widget=forms.HiddenInput)
    next = forms.CharField(required=False, widget=forms.HiddenInput)
