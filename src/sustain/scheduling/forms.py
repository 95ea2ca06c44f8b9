import datetime as dt

from django import forms

from sustain.scheduling.models import Chair
from sustain_core import series

WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]


class SeriesForm(forms.Form):
    """When to book, and the patient's availability (all optional but the first day)."""

    first_day = forms.DateField(
        label="Earliest first infusion", widget=forms.DateInput(attrs={"type": "date"})
    )
    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS, coerce=int, required=False, widget=forms.CheckboxSelectMultiple,
        label="Patient's days",
    )  # fmt: skip
    window_start = forms.TimeField(
        required=False, label="From", widget=forms.TimeInput(attrs={"type": "time"})
    )
    window_end = forms.TimeField(
        required=False, label="Until", widget=forms.TimeInput(attrs={"type": "time"})
    )
    away_from = forms.DateField(
        required=False, label="Away from", widget=forms.DateInput(attrs={"type": "date"})
    )
    away_until = forms.DateField(
        required=False, label="Away until", widget=forms.DateInput(attrs={"type": "date"})
    )
    chair = forms.ModelChoiceField(
        queryset=Chair.objects.none(), required=False, label="Preferred chair"
    )
    span_days = forms.IntegerField(
        required=False, min_value=1, label="Within (days)", help_text="At most the protocol's"
    )

    def __init__(self, *args: object, chairs: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["chair"].queryset = chairs  # type: ignore[attr-defined]

    def availability(self) -> series.Availability | None:
        data = self.cleaned_data
        start, end = data.get("window_start"), data.get("window_end")
        away_from, away_until = data.get("away_from"), data.get("away_until")
        if not (data.get("weekdays") or start or end or away_from):
            return None
        blackout = frozenset(
            away_from + dt.timedelta(days=n)
            for n in range(((away_until or away_from) - away_from).days + 1)
        ) if away_from else frozenset()  # fmt: skip
        return series.Availability(
            weekdays=frozenset(data["weekdays"]) if data.get("weekdays") else None,
            windows=((start or dt.time(0), end or dt.time(23, 59)),) if start or end else (),
            blackout_dates=blackout,
        )


class VisitForm(forms.Form):
    chair = forms.ModelChoiceField(queryset=Chair.objects.none(), empty_label=None)
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    start_time = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}))

    def __init__(self, *args: object, chairs: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["chair"].queryset = chairs  # type: ignore[attr-defined]
