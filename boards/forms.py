from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from boards.models import Channel, MomentOfTruth, NoteKind, Stage

EMOTION_CHOICES = [
    ("", "Not rated"),
    ("-2", "−2 Very negative"),
    ("-1", "−1 Negative"),
    ("0", "0 Neutral"),
    ("1", "+1 Positive"),
    ("2", "+2 Very positive"),
]


class NoteTextField(forms.CharField):
    """A browser counts a line break as one character and sends it as two (CRLF): count it as one."""

    def to_python(self, value):
        return super().to_python(value).replace("\r\n", "\n").replace("\r", "\n")


class IdempotentForm(forms.Form):
    """A client-generated id: the same post retried takes effect once."""

    request_id = forms.UUIDField(required=False, widget=forms.HiddenInput)


class NoteForm(IdempotentForm):
    phase = forms.IntegerField(widget=forms.HiddenInput)
    interaction = forms.IntegerField(required=False, widget=forms.HiddenInput)
    kind = forms.ChoiceField(choices=NoteKind.choices, initial=NoteKind.OBSERVATION)
    text = NoteTextField(max_length=500, widget=forms.Textarea(attrs={"rows": 3, "autofocus": True}))


class NoteEditForm(IdempotentForm):
    kind = forms.ChoiceField(choices=NoteKind.choices)
    text = NoteTextField(max_length=500, widget=forms.Textarea(attrs={"rows": 4, "autofocus": True}))
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    # The kind when the dialog opened: after a conflict, a kind left as it was takes theirs.
    kind_was = forms.CharField(required=False, widget=forms.HiddenInput)


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
    # No channel picked in advance: a step saved as "Boutique" by default would quietly skew the heatmap.
    channel = forms.ChoiceField(
        choices=[("", "Pick a channel…"), *Channel.choices],
        error_messages={"required": "Pick the channel where the customer does this."},
    )
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


class StageForm(IdempotentForm):
    stage = forms.ChoiceField(choices=Stage.choices)


class FocusForm(IdempotentForm):
    phase = forms.IntegerField(required=False)


class ToggleForm(IdempotentForm):
    value = forms.TypedChoiceField(choices=[("0", "off"), ("1", "on")], coerce=lambda v: v == "1")


class TimerForm(IdempotentForm):
    op = forms.ChoiceField(choices=[(o, o) for o in ("start", "pause", "resume", "extend", "end")])
    minutes = forms.IntegerField(required=False, min_value=1, max_value=120)


class VotingRoundForm(IdempotentForm):
    budget = forms.IntegerField(min_value=1, max_value=20, initial=3, label="Dots per person")
    cap_per_note = forms.IntegerField(min_value=1, max_value=20, initial=2, label="Most dots one person can put on a note")
    phase = forms.TypedChoiceField(coerce=int, empty_value=None, required=False, label="Limit to one phase")

    def __init__(self, *args, phases=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["phase"].choices = [("", "The whole board")] + [(p.pk, p.name) for p in phases]

    def clean(self):
        data = super().clean()
        if data.get("budget") and data.get("cap_per_note") and data["cap_per_note"] > data["budget"]:
            self.add_error("cap_per_note", "The cap per note can't be more than the dots per person.")
        return data


class VoteForm(IdempotentForm):
    op = forms.ChoiceField(choices=[("add", "add"), ("remove", "remove")])


class ActionForm(IdempotentForm):
    title = forms.CharField(
        max_length=200,
        label="Action",
        widget=forms.Textarea(
            attrs={"rows": 2, "placeholder": "What will be done, e.g. Call back every client within the hour"}
        ),
    )
    owner = forms.TypedChoiceField(coerce=int, label="Owner")
    due_date = forms.DateField(label="Due", widget=forms.DateInput(attrs={"type": "date"}))
    notes = forms.TypedMultipleChoiceField(coerce=int, label="From these notes", widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, members=(), notes=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.note_list = list(notes)
        self.fields["owner"].choices = [("", "Pick an owner")] + [
            (m.pk, f"{m.name} · {m.get_business_function_display()}") for m in members
        ]
        self.fields["notes"].choices = [(n.pk, n.text) for n in self.note_list]
        self.fields["due_date"].widget.attrs["min"] = timezone.localdate().isoformat()  # the picker offers no past

    def clean_title(self) -> str:
        """Two rows to show the example and a long title whole, but a title is one line."""
        return " ".join(self.cleaned_data["title"].split())

    def note_options(self) -> list:
        """Each note's checkbox with the note itself, so the dialog can say which already have
        actions (their `action_list`, when the view gave them one)."""
        return list(zip(self["notes"], self.note_list, strict=True))


# Insights -----------------------------------------------------------------------------------------


class EmotionRatingForm(IdempotentForm):
    """One person's rating in consensus mode; empty takes it back."""

    value = forms.TypedChoiceField(
        choices=[("", "Take my rating back")] + [(str(v), str(v)) for v in range(-2, 3)],
        coerce=int,
        empty_value=None,
        required=False,
    )


class MetricForm(IdempotentForm):
    name = forms.CharField(max_length=60, label="Measure", help_text="NPS, CSAT, conversion, wait time…")
    value = forms.DecimalField(max_digits=14, decimal_places=4, label="Value")
    unit = forms.CharField(max_length=16, required=False, label="Unit", help_text="%, /5, min, €…")
    source = forms.CharField(max_length=120, required=False, label="Source", help_text="Where it comes from")
    date = forms.DateField(required=False, label="Measured on", widget=forms.DateInput(attrs={"type": "date"}))


class QuoteForm(IdempotentForm):
    text = NoteTextField(max_length=1000, label="What the customer said", widget=forms.Textarea(attrs={"rows": 4}))
    source = forms.CharField(max_length=120, required=False, label="Source", help_text="Survey, review, call…")
    date = forms.DateField(required=False, label="Heard on", widget=forms.DateInput(attrs={"type": "date"}))


class ImportForm(forms.Form):
    """A scenario exported as JSON: a file, or its text pasted."""

    MAX_BYTES = 2 * 1024 * 1024

    file = forms.FileField(required=False, label="JSON file", widget=forms.ClearableFileInput(attrs={"accept": ".json,application/json"}))
    text = forms.CharField(required=False, label="…or paste the JSON", widget=forms.Textarea(attrs={"rows": 6}))

    def clean(self):
        data = super().clean()
        upload, text = data.get("file"), (data.get("text") or "").strip()
        if not upload and not text:
            raise ValidationError("Choose a file exported from Journeymap, or paste its text.")
        if upload and upload.size > self.MAX_BYTES:
            self.add_error("file", f"The file is {upload.size // 1024} KB: at most 2 MB.")
        return data

    def raw(self) -> bytes | str:
        upload = self.cleaned_data.get("file")
        return upload.read() if upload else self.cleaned_data["text"]


class HistoryForm(forms.Form):
    seq = forms.IntegerField(required=False, min_value=0)
    page = forms.IntegerField(required=False, min_value=1)
