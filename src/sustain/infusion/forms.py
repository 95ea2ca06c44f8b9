import datetime as dt
from typing import Any

from django import forms
from django.utils.text import capfirst

from sustain.accounts.bounds import INT_MAX, VITAL_MAX, BoundedDateTimeField
from sustain.accounts.forms import confirmation
from sustain.accounts.models import Site, User
from sustain.infusion.enums import AdverseEventKind, AdverseEventSeverity, EventKind, PregnancyTest
from sustain.ledger.models import Container
from sustain.ledger.visits import container_label, usable_containers, witness_choices
from sustain.scheduling.forms import StaffChoiceField
from sustain_core.errors import ClinicalValueError
from sustain_core.infusion_day import VITALS_BOUNDS, Vitals, aldrete_score


class AdverseEventForm(forms.Form):
    kind = forms.ChoiceField(choices=AdverseEventKind.choices)
    severity = forms.ChoiceField(choices=AdverseEventSeverity.choices)
    serious = forms.BooleanField(
        required=False,
        label="Serious (death, threat to life, hospital, lasting disability)",
    )
    description = forms.CharField(
        max_length=300, required=False, help_text="Required when severe or serious"
    )
    action_taken = forms.CharField(max_length=300, required=False)


class _AtTheChair(forms.Form):
    """A chair-side form; times typed are the site's wall clock (`tz`)."""

    def __init__(self, *args: Any, tz: dt.tzinfo, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tz = tz

    def _aware(self, name: str) -> dt.datetime | None:
        value: dt.datetime | None = self.cleaned_data.get(name)
        return None if value is None else value.replace(tzinfo=self.tz)


def _when(label: str) -> BoundedDateTimeField:
    return BoundedDateTimeField(
        label=label, required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )  # fmt: skip


class ChecksForm(_AtTheChair):
    """The pre-infusion checks (sustain.infusion.chairside.CHECK_FIELDS)."""

    identity_confirmed = forms.BooleanField(required=False, label="Identity confirmed")
    last_food_at = _when("Last ate (site's time)")
    last_clear_fluids_at = _when("Last drank clear fluids")
    escort_present = forms.BooleanField(required=False, label="A responsible adult takes them home")
    no_driving_confirmed = forms.BooleanField(required=False, label="Will not drive today")
    pregnancy_test = forms.ChoiceField(choices=PregnancyTest.choices, label="Pregnancy test")
    substance_use_asked = forms.BooleanField(
        required=False, label="Asked about alcohol and drug use"
    )
    substance_use = forms.CharField(required=False, max_length=300, label="Use reported")
    medication_changes_asked = forms.BooleanField(
        required=False, label="Asked about medication changes"
    )
    medication_changes = forms.CharField(required=False, max_length=300, label="Changes reported")

    def answers(self) -> dict[str, object]:
        data = dict(self.cleaned_data)
        data["last_food_at"] = self._aware("last_food_at")
        data["last_clear_fluids_at"] = self._aware("last_clear_fluids_at")
        return data


class LastDoseForm(_AtTheChair):
    """When the patient last took an interacting medication of their list."""

    medication = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=INT_MAX)
    taken_at = BoundedDateTimeField(
        label="Last taken (site's time)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def taken_at_aware(self) -> dt.datetime | None:
        return self._aware("taken_at")


class VitalsForm(forms.Form):
    """One set of vital signs; the ranges are the core's (sustain_core.infusion_day.Vitals),
    which names the field it refuses."""

    systolic_mmhg = forms.IntegerField(label="Systolic (mmHg)", min_value=0, max_value=VITAL_MAX)
    diastolic_mmhg = forms.IntegerField(label="Diastolic (mmHg)", min_value=0, max_value=VITAL_MAX)
    heart_rate_bpm = forms.IntegerField(label="Heart rate (/min)", min_value=0, max_value=VITAL_MAX)
    spo2_percent = forms.IntegerField(label="SpO₂ (%)", min_value=0, max_value=100)
    respiratory_rate_per_min = forms.IntegerField(
        label="Respiratory rate (/min)", min_value=0, max_value=VITAL_MAX
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            try:
                self.vitals = Vitals(**{name: data[name] for name in VITALS_BOUNDS})
            except ClinicalValueError as refused:
                self.add_error(refused.field, capfirst(refused.message))
        return data


class DecisionForm(forms.Form):
    """A prescriber's decision at the gate, with the reason."""

    decision = forms.ChoiceField(
        choices=[
            ("blood_pressure", "Accept the blood pressure"),
            ("suicide_risk", "Clear the patient for today (open suicide-risk alert)"),
            ("dose_review", "Dose reviewed after the last infusion's blood pressure"),
        ]
    )
    reason = forms.CharField(max_length=300, label="Reason")


class ContainerField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Container) -> str:
        return container_label(obj)


class StartForm(forms.Form):
    """The vial drawn from: one of the site's usable containers (an expired or empty one is
    not offered), then the nurse's confirmation."""

    container = ContainerField(
        queryset=Container.objects.none(), label="Vial drawn from", empty_label=None
    )
    confirm = forms.BooleanField(
        label="I have checked the patient, the weight, the dose and the pump rate",
        required=True,
    )

    def __init__(self, *args: Any, site: Site, day: dt.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["container"]
        assert isinstance(field, ContainerField)  # noqa: S101 - declared above
        field.queryset = usable_containers(site, day)


class EndForm(forms.Form):
    """Only for an infusion stopped and not resumed: what the pump delivered."""

    delivered_mg = forms.DecimalField(
        required=False, label="Stopped: mg the pump delivered", max_digits=9, decimal_places=2
    )


class WasteForm(forms.Form):
    """Waste the remainder: a witness among the site's other clinical staff, who re-enters
    their password."""

    witness = StaffChoiceField(queryset=User.objects.none(), label="Witness")
    witness_password = forms.CharField(
        widget=forms.PasswordInput, label="Witness's password", strip=False, max_length=128
    )
    confirm = confirmation("I confirm the remainder is wasted: this cannot be undone")

    def __init__(self, *args: Any, site: Site, by: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["witness"]
        assert isinstance(field, StaffChoiceField)  # noqa: S101 - declared above
        field.queryset = witness_choices(site, by)


class EventForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[
            (k.value, k.label)
            for k in (EventKind.STOP, EventKind.RATE_CHANGE, EventKind.MEDICATION, EventKind.NOTE)
        ]
    )
    detail = forms.CharField(
        max_length=300,
        label="What (a medication with its dose)",
        help_text="For a pump rate change, write the new rate, e.g. 75 mL/h: the plasma model "
        "reads one rate in mL/h or mg/h.",
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=300, label="Reason")


SCORES = [(n, str(n)) for n in (2, 1, 0)]


class DischargeForm(forms.Form):
    """The discharge criteria: the modified Aldrete items (0–2 each), dissociation resolved,
    the escort; a prescriber may discharge against failed criteria with a reason."""

    ALDRETE = ("activity", "respiration", "circulation", "consciousness", "oxygen_saturation")
    # No item starts scored: the nurse chooses each one (a default of 2 would score 10 unseen).
    activity = forms.TypedChoiceField(choices=[("", "—"), *SCORES], coerce=int)
    respiration = forms.TypedChoiceField(choices=[("", "—"), *SCORES], coerce=int)
    circulation = forms.TypedChoiceField(choices=[("", "—"), *SCORES], coerce=int)
    consciousness = forms.TypedChoiceField(choices=[("", "—"), *SCORES], coerce=int)
    oxygen_saturation = forms.TypedChoiceField(
        choices=[("", "—"), *SCORES], coerce=int, label="Oxygen saturation"
    )
    dissociation_resolved = forms.BooleanField(required=False, label="Dissociation resolved")
    escort_present = forms.BooleanField(required=False, label="Escort present")
    override_reason = forms.CharField(
        required=False, max_length=300, label="Prescriber: discharge despite (reason)"
    )

    def __init__(self, *args: Any, prescriber: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not prescriber:  # only a prescriber discharges against the criteria
            del self.fields["override_reason"]

    def aldrete(self) -> int:
        return aldrete_score(**{name: self.cleaned_data[name] for name in self.ALDRETE})


class AddendumForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Addendum")


class SignForm(forms.Form):
    """Signing is final (addenda only afterwards): confirmed first."""

    confirm = confirmation(
        "I confirm the record is complete and correct: once signed it is not undone"
    )


class CosignForm(forms.Form):
    """Co-signing locks the record: confirmed first."""

    confirm = confirmation("I confirm I have reviewed the record: co-signing locks it")
