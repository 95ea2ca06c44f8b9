import datetime as dt

from django import forms

from sustain.accounts.models import User
from sustain.scheduling.enums import ChairCapability, StaffRole, TemplatePhase
from sustain.scheduling.models import Chair, PhaseStaffing
from sustain.scheduling.staff import MAX_REPEAT_WEEKS, ShiftRequest
from sustain_core import series, staffing

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


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return obj.get_full_name() or obj.get_username()


class ShiftForm(forms.Form):
    """A shift for one of the site's nurses or prescribers, repeated weekly."""

    staff = StaffChoiceField(queryset=User.objects.none(), label="Person")
    role = forms.ChoiceField(choices=StaffRole.choices)
    day = forms.DateField(label="First day", widget=forms.DateInput(attrs={"type": "date"}))
    starts = forms.TimeField(label="From", widget=forms.TimeInput(attrs={"type": "time"}))
    ends = forms.TimeField(label="To", widget=forms.TimeInput(attrs={"type": "time"}))
    weeks = forms.IntegerField(
        label="Repeat weekly for (weeks)", required=False, initial=1, min_value=1,
        max_value=MAX_REPEAT_WEEKS,
    )  # fmt: skip

    def __init__(self, *args: object, people: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["staff"].queryset = people  # type: ignore[attr-defined]

    def shift_request(self) -> ShiftRequest:
        data = self.cleaned_data
        return ShiftRequest(
            staff=data["staff"], role=StaffRole(data["role"]), day=data["day"],
            starts=data["starts"], ends=data["ends"], weeks=data["weeks"] or 1,
        )  # fmt: skip


class StaffRulesForm(forms.Form):
    """Patients per nurse (blank: not counted) and prescriber on site, for every phase."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for phase in TemplatePhase:
            self.fields[f"{phase.value}_ratio"] = forms.IntegerField(
                required=False, min_value=1, max_value=staffing.MAX_PATIENTS_PER_NURSE,
                label=f"Patients per nurse in {phase.label.lower()}",
            )  # fmt: skip
            self.fields[f"{phase.value}_prescriber"] = forms.BooleanField(
                required=False, label=f"Prescriber on site in {phase.label.lower()}"
            )

    @staticmethod
    def initial_for(rows: list[PhaseStaffing]) -> dict[str, object]:
        initial: dict[str, object] = {}
        for row in rows:
            initial[f"{row.phase}_ratio"] = row.patients_per_nurse
            initial[f"{row.phase}_prescriber"] = row.prescriber_on_site
        return initial

    def phases(self) -> list[tuple[TemplatePhase, forms.BoundField, forms.BoundField]]:
        return [
            (phase, self[f"{phase.value}_ratio"], self[f"{phase.value}_prescriber"])
            for phase in TemplatePhase
        ]

    def rules(self) -> dict[str, tuple[int | None, bool]]:
        data = self.cleaned_data
        return {
            phase.value: (data[f"{phase.value}_ratio"], data[f"{phase.value}_prescriber"])
            for phase in TemplatePhase
        }


class ChairCapabilitiesForm(forms.Form):
    capabilities = forms.MultipleChoiceField(
        choices=ChairCapability.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
