from typing import Any

from django import forms

from sustain.accounts.enums import Channel
from sustain.care.enums import Timepoint
from sustain_core import instruments


class InviteForm(forms.Form):
    instruments = forms.MultipleChoiceField(
        choices=[], widget=forms.CheckboxSelectMultiple, label="Questionnaires"
    )
    channel = forms.ChoiceField(choices=[(c.value, c.label) for c in (Channel.EMAIL, Channel.SMS)])
    timepoint = forms.ChoiceField(choices=Timepoint.choices, initial=Timepoint.FOLLOW_UP)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["instruments"].choices = [  # type: ignore[attr-defined]
            (i.code, i.title)
            for i in instruments.INSTRUMENTS.values()
            if i.rater == instruments.Rater.SELF
        ]
