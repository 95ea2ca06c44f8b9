from decimal import Decimal

from django import forms

from sustain.infusion.enums import AdverseEventKind, AdverseEventSeverity
from sustain_core import dosing


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


class AdverseEventForm(forms.Form):
    kind = forms.ChoiceField(choices=AdverseEventKind.choices)
    severity = forms.ChoiceField(choices=AdverseEventSeverity.choices)
    description = forms.CharField(max_length=300, required=False)
    action_taken = forms.CharField(max_length=300, required=False)
