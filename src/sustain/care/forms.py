from decimal import Decimal
from typing import Any

from django import forms

from sustain.accounts.models import Site
from sustain.care.enums import (
    AdverseEventKind,
    AdverseEventSeverity,
    Condition,
    Sex,
    Timepoint,
)
from sustain.portal.enums import Channel
from sustain_core import dosing, instruments
from sustain_core.errors import ClinicalValueError


class PatientForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none(), empty_label=None)
    given_name = forms.CharField(max_length=100)
    family_name = forms.CharField(max_length=100)
    date_of_birth = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    sex = forms.ChoiceField(choices=Sex.choices)
    phone = forms.CharField(max_length=40, required=False)
    email = forms.EmailField(required=False)
    primary_condition = forms.ChoiceField(choices=Condition.choices)
    weight_kg = forms.DecimalField(
        label="Weight (kg)",
        max_digits=4,
        decimal_places=1,
        help_text=f"{dosing.WEIGHT_KG_MIN}–{dosing.WEIGHT_KG_MAX} kg, to 0.1 kg",
    )
    height_cm = forms.DecimalField(
        label="Height (cm)",
        max_digits=4,
        decimal_places=1,
        required=False,
        help_text="Needed when the clinic doses on ideal or adjusted body weight",
    )

    def __init__(self, *args: object, sites: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["site"].queryset = sites  # type: ignore[attr-defined]


class AssessmentMetaForm(forms.Form):
    instrument = forms.ChoiceField(choices=[(code, code) for code in instruments.INSTRUMENTS])
    timepoint = forms.ChoiceField(choices=Timepoint.choices)


class InfusionForm(forms.Form):
    vial_mg_per_ml = forms.TypedChoiceField(
        label="Vial strength",
        choices=[(str(v), f"{v} mg/mL") for v in dosing.ALLOWED_VIAL_MG_PER_ML],
        coerce=Decimal,
    )
    confirm = forms.BooleanField(
        label="I have checked the patient, the weight, the dose and the pump rate",
        required=True,
    )


class InstrumentForm(forms.Form):
    """Any instrument of sustain_core.instruments as radio groups, one per item.

    Fields are optional here on purpose: which items may be missing (proration, skip logic)
    is the instrument's rule, so sustain_core.instruments.score decides and names the item.
    """

    def __init__(self, instrument: instruments.Instrument, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", instrument.code)
        super().__init__(*args, **kwargs)
        self.instrument = instrument
        for item in instrument.items:
            values = range(item.min_value, item.max_value + 1)
            labels = item.answer_labels or tuple(str(v) for v in values)
            self.fields[item.key] = forms.TypedChoiceField(
                label=item.text or item.label,
                choices=[(v, f"{label}") for v, label in zip(values, labels, strict=True)],
                coerce=int,
                required=False,
                empty_value=None,
                widget=forms.RadioSelect,
            )

    def answers(self) -> dict[str, int | None]:
        return {item.key: self.cleaned_data.get(item.key) for item in self.instrument.items}

    def show_error(self, error: ClinicalValueError) -> None:
        """Put a scoring refusal (field "item_<key>") on its item, else on the form."""
        key = error.field.removeprefix("item_")
        self.add_error(key if key in self.fields else None, error.message)


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


class ConsentForm(forms.Form):
    signed_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    document = forms.CharField(max_length=200, label="Form and version")


class AdverseEventForm(forms.Form):
    kind = forms.ChoiceField(choices=AdverseEventKind.choices)
    severity = forms.ChoiceField(choices=AdverseEventSeverity.choices)
    description = forms.CharField(max_length=300, required=False)
    action_taken = forms.CharField(max_length=300, required=False)
