from django import forms

from sustain.scheduling.models import Chair


class SeriesForm(forms.Form):
    first_day = forms.DateField(
        label="Earliest first infusion", widget=forms.DateInput(attrs={"type": "date"})
    )


class VisitForm(forms.Form):
    chair = forms.ModelChoiceField(queryset=Chair.objects.none(), empty_label=None)
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    start_time = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}))

    def __init__(self, *args: object, chairs: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["chair"].queryset = chairs  # type: ignore[attr-defined]
