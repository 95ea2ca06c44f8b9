from decimal import Decimal

from django import forms

from sustain.accounts.models import Site
from sustain.care.enums import Condition, Sex, Timepoint
from sustain_core import dosing, questionnaires


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

    def __init__(self, *args: object, sites: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["site"].queryset = sites  # type: ignore[attr-defined]


class Phq9Form(forms.Form):
    """One radio group per PHQ-9 item; every item must be answered (0–3)."""

    timepoint = forms.ChoiceField(choices=Timepoint.choices)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        choices = list(enumerate(questionnaires.PHQ9.answer_labels))
        for number, text in enumerate(questionnaires.PHQ9.items, start=1):
            self.fields[f"item_{number}"] = forms.TypedChoiceField(
                label=f"{number}. {text}", choices=choices, coerce=int, widget=forms.RadioSelect
            )

    def answers(self) -> list[int]:
        return [
            self.cleaned_data[f"item_{n}"] for n in range(1, len(questionnaires.PHQ9.items) + 1)
        ]

    def item_fields(self) -> list[forms.BoundField]:
        return [self[f"item_{n}"] for n in range(1, len(questionnaires.PHQ9.items) + 1)]


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
