import datetime as dt
from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.text import capfirst

from sustain.accounts.bounds import BoundedDateField
from sustain.accounts.forms import confirmation
from sustain.accounts.models import User
from sustain.scheduling import services
from sustain.scheduling.enums import (
    CancellationReason,
    ChairCapability,
    StaffRole,
    TemplatePhase,
    Weekday,
)
from sustain.scheduling.models import Chair, OpeningHours, PhaseStaffing
from sustain.scheduling.staff import MAX_REPEAT_WEEKS, ShiftRequest
from sustain_core import series, staffing
from sustain_core.errors import ClinicalValueError

WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]


class SeriesForm(forms.Form):
    """When to book, and the patient's availability (all optional but the first day)."""

    first_day = BoundedDateField(
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
    away_from = BoundedDateField(
        required=False, label="Away from", widget=forms.DateInput(attrs={"type": "date"})
    )
    away_until = BoundedDateField(
        required=False, label="Away until", widget=forms.DateInput(attrs={"type": "date"})
    )
    chair = forms.ModelChoiceField(
        queryset=Chair.objects.none(), required=False, label="Preferred chair"
    )
    span_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=366,
        label="Within (days)",
        help_text="At most the protocol's",
    )

    def __init__(self, *args: object, chairs: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["chair"].queryset = chairs  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        """An absence runs forwards and lasts at most a year (services.away_dates, TST-03)."""
        data = super().clean() or {}
        data["blackout"] = frozenset()
        if data.get("away_from"):
            try:
                data["blackout"] = services.away_dates(data["away_from"], data.get("away_until"))
            except ClinicalValueError as refused:
                self.add_error("away_until", capfirst(refused.message) + ".")
        return data

    def availability(self) -> series.Availability | None:
        data = self.cleaned_data
        start, end = data.get("window_start"), data.get("window_end")
        if not (data.get("weekdays") or start or end or data.get("away_from")):
            return None
        blackout = data["blackout"]
        return series.Availability(
            weekdays=frozenset(data["weekdays"]) if data.get("weekdays") else None,
            windows=((start or dt.time(0), end or dt.time(23, 59)),) if start or end else (),
            blackout_dates=blackout,
        )


class VisitForm(forms.Form):
    chair = forms.ModelChoiceField(queryset=Chair.objects.none(), empty_label=None)
    day = BoundedDateField(widget=forms.DateInput(attrs={"type": "date"}))
    start_time = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}))
    # A move that breaks a rule says why (Appointment.override_reason, 300 characters).
    override_reason = forms.CharField(max_length=300, required=False)

    def __init__(self, *args: object, chairs: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["chair"].queryset = chairs  # type: ignore[attr-defined]


class CancelForm(forms.Form):
    """Why a visit is cancelled: a coded reason (moving it is not a cancellation) and a note."""

    reason = forms.ChoiceField(
        label="Why",
        choices=[("", "Choose a reason")]
        + [c for c in CancellationReason.choices if c[0] != CancellationReason.RESCHEDULED],
    )
    note = forms.CharField(
        label="Note", required=False, max_length=300, help_text="Required for “Other”"
    )


class NoShowForm(forms.Form):
    """A no-show stays recorded (the visit can still be moved): confirmed first."""

    confirm = confirmation(
        "I confirm the patient did not come: the no-show stays on record (the visit can be moved)"
    )


class BoosterForm(forms.Form):
    """A chosen time for a booster; empty day and time: the earliest free time in its window."""

    chair = forms.ModelChoiceField(queryset=Chair.objects.none(), required=False)
    day = BoundedDateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    start_time = forms.TimeField(
        required=False, label="Time", widget=forms.TimeInput(attrs={"type": "time"})
    )

    def __init__(self, *args: object, chairs: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["chair"].queryset = chairs  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("day")) != bool(data.get("start_time")):
            raise forms.ValidationError(
                "give both a day and a time, or neither for the earliest free time"
            )
        return data


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return obj.get_full_name() or obj.get_username()


class ShiftForm(forms.Form):
    """A shift for one of the site's nurses or prescribers, repeated weekly."""

    staff = StaffChoiceField(queryset=User.objects.none(), label="Person")
    role = forms.ChoiceField(choices=StaffRole.choices)
    day = BoundedDateField(label="First day", widget=forms.DateInput(attrs={"type": "date"}))
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


def _time(label: str) -> forms.TimeField:
    return forms.TimeField(
        required=False, label=label, widget=forms.TimeInput(attrs={"type": "time"})
    )


class OpeningHoursForm(forms.Form):
    """One opening and closing time per weekday; both blank: closed that weekday."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for weekday, label in Weekday.choices:
            self.fields[f"opens_{weekday}"] = _time(f"{label} opens")
            self.fields[f"closes_{weekday}"] = _time(f"{label} closes")

    @staticmethod
    def initial_for(rows: Iterable[OpeningHours]) -> dict[str, dt.time]:
        initial: dict[str, dt.time] = {}
        for row in rows:  # a weekday of several rows shows its first opening and last closing
            initial.setdefault(f"opens_{row.weekday}", row.opens)
            initial[f"closes_{row.weekday}"] = row.closes
        return initial

    def rows(self) -> list[tuple[Weekday, forms.BoundField, forms.BoundField]]:
        return [(Weekday(w), self[f"opens_{w}"], self[f"closes_{w}"]) for w in Weekday.values]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for weekday, label in Weekday.choices:
            opens, closes = data.get(f"opens_{weekday}"), data.get(f"closes_{weekday}")
            if (opens is None) != (closes is None) and f"opens_{weekday}" not in self.errors:
                self.add_error(
                    f"opens_{weekday}",
                    f"{label}: give both the opening and the closing time, or neither (closed)",
                )
        return data

    def hours(self) -> dict[int, tuple[dt.time, dt.time] | None]:
        data = self.cleaned_data
        return {
            w: None if data.get(f"opens_{w}") is None else (data[f"opens_{w}"], data[f"closes_{w}"])
            for w in Weekday.values
        }


class ClosureForm(forms.Form):
    # not BoundedDateField: hours.add_closures refuses a date outside today..the horizon in words
    first = forms.DateField(label="Closed on", widget=forms.DateInput(attrs={"type": "date"}))
    last = forms.DateField(
        required=False, label="Through (optional)", widget=forms.DateInput(attrs={"type": "date"})
    )
    reason = forms.CharField(max_length=120, label="Reason")


class HolidayCountryForm(forms.Form):
    country = forms.CharField(max_length=3, required=False, label="Country (ISO code, e.g. US)")
    subdivision = forms.CharField(
        max_length=10, required=False, label="Subdivision (optional, e.g. NY)"
    )


class PublicHolidaysForm(forms.Form):
    year = forms.IntegerField(label="Year")  # its service says which years, in words
