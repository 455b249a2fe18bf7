from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from boards.models import Channel, MomentOfTruth, NoteKind

EMOTION_CHOICES = [
    ("", "Not rated"),
    ("-2", "−2 Very negative"),
    ("-1", "−1 Negative"),
    ("0", "0 Neutral"),
    ("1", "+1 Positive"),
    ("2", "+2 Very positive"),
]


class IdempotentForm(forms.Form):
    """A client-generated id: the same post retried takes effect once."""

    request_id = forms.UUIDField(required=False, widget=forms.HiddenInput)


class NoteForm(IdempotentForm):
    phase = forms.IntegerField(widget=forms.HiddenInput)
    interaction = forms.IntegerField(required=False, widget=forms.HiddenInput)
    kind = forms.ChoiceField(choices=NoteKind.choices, initial=NoteKind.OBSERVATION)
    text = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


class NoteEditForm(IdempotentForm):
    kind = forms.ChoiceField(choices=NoteKind.choices)
    text = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 4}))
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class NoteMoveForm(IdempotentForm):
    target = forms.ChoiceField(label="Move to", error_messages={"invalid_choice": "Pick where to move it."})
    position = forms.TypedChoiceField(
        choices=[("", "At the bottom"), ("0", "At the top")],
        coerce=int,
        empty_value=None,
        required=False,
        label="Where",
    )

    def __init__(self, *args, phases=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = [
            (
                phase.name,
                [(f"phase:{phase.pk}", f"{phase.name} (whole phase)")]
                + [(f"mi:{mi.pk}", mi.action) for mi in phase.interaction_list],
            )
            for phase in phases
        ]

    def target_parts(self) -> tuple[str, int]:
        kind, pk = self.cleaned_data["target"].split(":")
        return kind, int(pk)


class MoveForm(IdempotentForm):
    position = forms.IntegerField(min_value=-1)


class PhaseForm(IdempotentForm):
    name = forms.CharField(max_length=80)
    goal = forms.CharField(max_length=240, required=False, label="Customer's goal")
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)


class InteractionForm(IdempotentForm):
    action = forms.CharField(max_length=200, label="What the customer does")
    channel = forms.ChoiceField(choices=Channel.choices)
    emotion = forms.TypedChoiceField(
        choices=EMOTION_CHOICES, coerce=int, empty_value=None, required=False
    )
    moment_of_truth = forms.ChoiceField(choices=MomentOfTruth.choices, initial=MomentOfTruth.NONE)
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form field it names, or on the whole form."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
