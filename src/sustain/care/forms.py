import hashlib
from typing import Any

from django import forms
from django.utils.text import capfirst

from sustain.accounts.bounds import INT_MAX, BoundedDateField, check_date
from sustain.accounts.forms import confirmation
from sustain.accounts.models import Site
from sustain.care import labels, services
from sustain.care.enums import AllergySeverity, Condition, ContactChannel, Sex, Timepoint
from sustain.care.models import BreakGlassOutcome
from sustain_core import clinic_rules, dosing, instruments, medications, protocols
from sustain_core.errors import ClinicalValueError
from sustain_core.numbers import plain


class ContactsForm(forms.Form):
    """The patient's contacts (care.services.CONTACT_FIELDS), at registration and corrected."""

    emergency_contact_name = forms.CharField(
        label="Emergency contact", max_length=100, required=False
    )
    emergency_contact_relation = forms.CharField(
        label="Their relation to the patient", max_length=60, required=False
    )
    emergency_contact_phone = forms.CharField(
        label="Emergency contact's phone", max_length=40, required=False
    )
    escort_name = forms.CharField(
        label="Usual escort", max_length=100, required=False,
        help_text="Who takes the patient home: discharge after an infusion needs an escort",
    )  # fmt: skip
    escort_phone = forms.CharField(label="Escort's phone", max_length=40, required=False)
    contact_channel = forms.ChoiceField(
        label="Preferred contact", required=False,
        choices=[("", "Not stated (e-mail, else text message)"), *ContactChannel.choices],
        help_text="Visit reminders follow it",
    )  # fmt: skip


class PatientForm(ContactsForm):
    site = forms.ModelChoiceField(queryset=Site.objects.none(), empty_label=None)
    given_name = forms.CharField(max_length=100)
    family_name = forms.CharField(max_length=100)
    date_of_birth = BoundedDateField(widget=forms.DateInput(attrs={"type": "date"}))
    sex = forms.ChoiceField(choices=Sex.choices)
    phone = forms.CharField(max_length=40, required=False)
    email = forms.EmailField(required=False)
    address = forms.CharField(
        label="Postal address",
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The controlled-substance record names it with each administration",
    )
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
        help_text=(
            "Needed when the clinic doses on ideal or adjusted body weight (from a BMI "
            "threshold): without it no dose can be calculated"
        ),
    )

    confirm_duplicate = forms.BooleanField(
        label="Register anyway: this is not one of the patients listed",
        required=False,
        help_text="Asked only when the site has a patient of the same name and date of birth",
    )
    field_order = (
        "site", "given_name", "family_name", "date_of_birth", "sex", "phone", "email",
        "address", "primary_condition", "weight_kg", "height_cm", *services.CONTACT_FIELDS,
        "confirm_duplicate",
    )  # fmt: skip

    def __init__(self, *args: object, sites: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["site"].queryset = sites  # type: ignore[attr-defined]


class PatientSearchForm(forms.Form):
    """The patient list's search (issue 13), sent by POST so the term, a patient's name or
    date of birth, is never in a URL or a server log."""

    q = forms.CharField(
        label="Search",
        max_length=100,
        required=False,
        help_text="A part of the name or phone number, the MRN, or the date of birth as YYYY-MM-DD",
    )
    sort = forms.ChoiceField(
        label="Sort by",
        choices=[
            ("name", "Name, A–Z"),
            ("-name", "Name, Z–A"),
            ("born", "Date of birth, oldest first"),
            ("-born", "Date of birth, youngest first"),
        ],
        required=False,
    )
    page = forms.IntegerField(
        min_value=1, max_value=INT_MAX, required=False, widget=forms.HiddenInput
    )


class AssessmentMetaForm(forms.Form):
    instrument = forms.ChoiceField(choices=[(code, code) for code in instruments.INSTRUMENTS])
    timepoint = forms.ChoiceField(choices=Timepoint.choices)


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


class WeightForm(forms.Form):
    weight_kg = forms.DecimalField(
        label="Weight (kg)",
        max_digits=4,
        decimal_places=1,
        help_text=f"{dosing.WEIGHT_KG_MIN}–{dosing.WEIGHT_KG_MAX} kg, to 0.1 kg",
    )
    # not BoundedDateField: care.services refuses a date after today, or far back, in words
    measured_on = forms.DateField(
        label="Weighed on", widget=forms.DateInput(attrs={"type": "date"})
    )


class MedicationForm(forms.Form):
    """A medication for the patient's list: a name the drug table knows (offered as
    suggestions) or any other, typed; the service decides which it is."""

    name = forms.CharField(
        max_length=medications.NAME_MAX_CHARACTERS,
        label="Medication (ingredient)",
        help_text="Brand names are not recognised: type the ingredient, e.g. lorazepam",
        widget=forms.TextInput(attrs={"list": "drug-names", "autocomplete": "off"}),
    )
    dose = forms.CharField(max_length=300, required=False, label="Dose and notes")
    started_on = BoundedDateField(
        required=False, label="Started on (if known)",
        widget=forms.DateInput(attrs={"type": "date"}),
    )  # fmt: skip


class StopMedicationForm(forms.Form):
    stopped_on = BoundedDateField(
        label="Stopped on", widget=forms.DateInput(attrs={"type": "date"})
    )


class CourseDoseForm(forms.Form):
    """A prescriber's dose for the course's next infusions (care.services.set_course_dose)."""

    mg_per_kg = forms.DecimalField(label="Dose (mg/kg)", max_digits=4, decimal_places=3)
    reason = forms.CharField(label="Reason", max_length=300)


class HeightForm(forms.Form):
    height_cm = forms.DecimalField(
        label="Height (cm)",
        max_digits=4,
        decimal_places=1,
        help_text=(
            f"{plain(dosing.HEIGHT_CM_MIN)}–{plain(dosing.HEIGHT_CM_MAX)} cm, to 0.1 cm; the "
            "BMI of an ideal or adjusted dosing weight needs it"
        ),
    )


class IndicationForm(forms.Form):
    primary_condition = forms.ChoiceField(label="Indication", choices=Condition.choices)


class AddressForm(forms.Form):
    address = forms.CharField(
        label="Postal address",
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The controlled-substance record names it with each administration",
    )


class ConsentForm(forms.Form):
    signed_on = BoundedDateField(widget=forms.DateInput(attrs={"type": "date"}))
    document = forms.CharField(max_length=200, label="Form and version")


class ConsentCorrectionForm(ConsentForm):
    """A prescriber's correction of a consent's date or document (care.services
    .correct_consent)."""

    reason = forms.CharField(max_length=300, label="Why it is corrected")


class PatientDetailsForm(ContactsForm):
    """A correction of a patient's demographics and contacts (care.services.correct_patient),
    shown with the values recorded."""

    given_name = forms.CharField(max_length=100)
    family_name = forms.CharField(max_length=100)
    date_of_birth = BoundedDateField(widget=forms.DateInput(attrs={"type": "date"}))
    sex = forms.ChoiceField(choices=Sex.choices)
    phone = forms.CharField(max_length=40, required=False)
    email = forms.EmailField(required=False)
    address = forms.CharField(
        label="Postal address", max_length=300, required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )  # fmt: skip
    height_cm = forms.DecimalField(
        label="Height (cm)", max_digits=4, decimal_places=1, required=False,
        help_text=f"{plain(dosing.HEIGHT_CM_MIN)}–{plain(dosing.HEIGHT_CM_MAX)} cm, to 0.1 cm",
    )  # fmt: skip
    reason = forms.CharField(
        max_length=300, label="Why the details change", help_text="Kept with the old values"
    )
    confirm_duplicate = forms.BooleanField(
        label="Save anyway: this is not one of the patients listed", required=False
    )

    FIELDS = services.DEMOGRAPHIC_FIELDS + services.CONTACT_FIELDS
    field_order = (*FIELDS, "reason", "confirm_duplicate")

    def changes(self) -> dict[str, Any]:
        """The details as entered (the service keeps those that changed)."""
        return {name: self.cleaned_data[name] for name in self.FIELDS}


class AllergyForm(forms.Form):
    substance = forms.CharField(max_length=100, help_text="A drug, a food, latex, …")
    reaction = forms.CharField(max_length=200, required=False, help_text="e.g. hives, anaphylaxis")
    severity = forms.ChoiceField(choices=AllergySeverity.choices)


NOTE_MAX = 1000


class AcknowledgeForm(forms.Form):
    """Closing an alert (or deciding a review task) is final: confirmed first."""

    confirm = confirmation("I confirm: the alert is closed for good (it cannot be reopened)")
    # Read through the form (TST-03): bounded, no NUL; the service says when one is missing.
    note = forms.CharField(max_length=NOTE_MAX, required=False)
    decision = forms.CharField(max_length=20, required=False)


class RemoveAllergyForm(forms.Form):
    reason = forms.CharField(max_length=300, label="Why it is removed")


class ContraindicationScreenForm(forms.Form):
    """The protocol's contraindication checklist: every item answered present or absent.

    Each field is keyed by the item's own text (a digest of it), not by its position, so an
    answer can only ever be taken for the item the prescriber saw.
    """

    ANSWERS = (("absent", "Absent"), ("present", "Present"))
    justification = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Justification (needed when a relative contraindication is present)",
    )
    notes = forms.CharField(required=False, max_length=2000, label="Notes")

    def __init__(self, protocol: protocols.Protocol, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.items: dict[str, str] = {}
        # Each item in plain words; its sources are footnotes at the foot of the form.
        self.footnotes = labels.footnotes(
            protocol, protocol.contraindications_absolute + protocol.contraindications_relative
        )
        plain = iter(self.footnotes.items)
        for kind, items in (
            ("Absolute", protocol.contraindications_absolute),
            ("Relative", protocol.contraindications_relative),
        ):
            for item in items:
                name = self.field_name(item)
                self.items[name] = item
                shown = next(plain)
                field = forms.ChoiceField(
                    label=f"{kind}: {shown.text}", choices=self.ANSWERS, widget=forms.RadioSelect
                )
                field.sourced = shown  # type: ignore[attr-defined]  # the template's footnote
                self.fields[name] = field
        self.order_fields([*self.items, "justification", "notes"])

    @staticmethod
    def field_name(item: str) -> str:
        return "item-" + hashlib.sha256(item.encode()).hexdigest()[:12]

    def answers(self) -> dict[str, bool]:
        """{item text: True when present}."""
        return {item: self.cleaned_data[name] == "present" for name, item in self.items.items()}


class _RulesChangeForm(forms.Form):
    """A change of a site's rules: the version it was based on and why (sustain.care.rules).
    The values' ranges are the core's to check (sustain_core.clinic_rules), which names them."""

    based_on = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=INT_MAX)
    reason = forms.CharField(max_length=500, label="Why the rules change")
    RULES: tuple[str, ...] = ()

    def changes(self) -> dict[str, object]:
        return {name: self.cleaned_data[name] for name in self.RULES}


class ClinicalRulesForm(_RulesChangeForm):
    """The dosing and safety rules (prescribers)."""

    weight_max_age_days = forms.IntegerField(label="A dose needs a weight from the last (days)")
    baseline_max_age_days = forms.IntegerField(
        label="Induction needs the baseline measures from the last (days)"
    )
    dosing_weight_basis = forms.ChoiceField(
        choices=[(b.value, b.value) for b in dosing.WeightBasis], label="Dose on body weight"
    )
    dosing_bmi_threshold = forms.DecimalField(
        max_digits=3, decimal_places=1, label="Ideal or adjusted weight from BMI (kg/m²)"
    )
    qids_suicide_threshold = forms.IntegerField(
        label="QIDS-SR16 item 12 answer that raises a suicide-risk alert (at or above)"
    )
    madrs_suicide_threshold = forms.IntegerField(
        label="MADRS item 10 rating that raises a suicide-risk alert (at or above)"
    )
    ymrs_alert_threshold = forms.IntegerField(
        label="YMRS total above which a mania alert is raised"
    )
    fiqr_min_answered_per_domain = forms.IntegerField(
        label="FIQR: fewest answered items for a domain to be scaled up"
    )
    alert_emails = forms.BooleanField(
        required=False, label="E-mail the prescriber when a safety alert is raised"
    )
    fasting_food_hours = forms.IntegerField(label="Hours without food before an infusion")
    fasting_clear_fluids_hours = forms.IntegerField(
        label="Hours without clear fluids before an infusion"
    )
    booster_risk_percent = forms.IntegerField(
        label="Suggest a booster before the relapse risk reaches (percent)"
    )
    booster_risk_horizon_days = forms.IntegerField(
        label="Booster due now when that risk is reached within (days)"
    )
    RULES = clinic_rules.CLINICAL_FIELDS

    def changes(self) -> dict[str, object]:
        return super().changes() | {
            "dosing_weight_basis": dosing.WeightBasis(self.cleaned_data["dosing_weight_basis"])
        }


class MessageRulesForm(_RulesChangeForm):
    """What patients are sent: reminder hours and the preparation text (administrators)."""

    reminder_hours = forms.CharField(
        required=False,
        label="Reminders, hours before the visit",
        help_text="Whole hours, largest first, separated by commas (e.g. 48, 24); empty: none",
    )
    visit_preparation = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), label="Preparation text"
    )
    RULES = clinic_rules.MESSAGE_FIELDS

    def clean_reminder_hours(self) -> tuple[int, ...]:
        parts = [part.strip() for part in self.cleaned_data["reminder_hours"].split(",")]
        if not all(part.isdigit() for part in parts if part):
            raise forms.ValidationError("Give whole hours separated by commas, e.g. 48, 24.")
        return tuple(int(part) for part in parts if part)


class EmergencyAccessForm(forms.Form):
    """Break-glass (sustain.care.break_glass, BTG-01): find one patient exactly, say why, and
    sign in again. Bounded like every form (TST-03)."""

    mrn = forms.CharField(label="MRN", max_length=20, required=False)
    family_name = forms.CharField(label="Family name", max_length=100, required=False)
    given_name = forms.CharField(label="Given name", max_length=100, required=False)
    date_of_birth = forms.DateField(
        label="Date of birth", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    reason = forms.CharField(
        label="Why you need this record now", max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )  # fmt: skip
    password = forms.CharField(
        label="Your password", max_length=4096, strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )  # fmt: skip
    code = forms.CharField(
        label="Code from your authenticator app (or a recovery code)", max_length=20,
        required=False, widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )  # fmt: skip

    def clean_date_of_birth(self) -> object:
        born = self.cleaned_data["date_of_birth"]
        if born is not None:
            try:
                check_date(born, "date_of_birth", "the date of birth")
            except ClinicalValueError as error:
                raise forms.ValidationError(capfirst(error.message)) from None
        return born


class EmergencyReviewForm(forms.Form):
    outcome = forms.ChoiceField(choices=BreakGlassOutcome.choices)
    note = forms.CharField(max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))
