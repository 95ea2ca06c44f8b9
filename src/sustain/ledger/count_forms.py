"""Forms of the count pages (sustain.ledger.count_views)."""

from django import forms

from sustain.accounts.bounds import BIGINT_MAX, INT_MAX, BoundedDateField, BoundedDateTimeField
from sustain.accounts.forms import confirmation
from sustain.ledger.enums import BusinessTime, InventoryKind, Resolution, TheftLossKind

UNIT_CHOICES = [("ml", "mL"), ("mg", "mg")]


class ResolveForm(forms.Form):
    resolution = forms.ChoiceField(
        choices=[
            (Resolution.FOUND, Resolution.FOUND.label),
            (Resolution.DOCUMENTATION_ERROR, Resolution.DOCUMENTATION_ERROR.label),
        ]
    )
    note = forms.CharField(max_length=300, label="What was found")
    recount = forms.IntegerField(
        required=False, min_value=1, max_value=INT_MAX, label="Recount (its number), if found"
    )
    entry_seq = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=BIGINT_MAX,
        label="The correcting entry's number, if a documentation error",
    )
    confirm = confirmation("I confirm the discrepancy is closed: it cannot be reopened")


class TheftLossForm(forms.Form):
    kind = forms.ChoiceField(choices=TheftLossKind.choices, label="Type of theft or loss")
    explanation = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Explanation"
    )
    discovered_at = BoundedDateTimeField(
        label="Discovered at (site time)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    occurred_on = BoundedDateField(
        required=False, label="Date of the theft or loss, if known",
        widget=forms.DateInput(attrs={"type": "date"}),
    )  # fmt: skip
    county = forms.CharField(max_length=80, label="County the site is in")
    police_notified = forms.BooleanField(required=False, label="Reported to the police")
    police_department = forms.CharField(
        required=False, max_length=200, label="Police department (name and telephone)"
    )
    police_report_number = forms.CharField(
        required=False, max_length=60, label="Police report number"
    )
    purchase_value_usd = forms.DecimalField(
        min_value=0, max_digits=10, decimal_places=2, label="Purchase value ($)"
    )
    confirm = confirmation(
        "I confirm the report: it closes the discrepancies chosen and starts the DEA deadlines"
    )


class FilingForm(forms.Form):
    at = BoundedDateTimeField(
        label="When (site time)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    reference = forms.CharField(required=False, max_length=60, label="Form 106 confirmation")
    confirm = confirmation("I confirm the date: it is recorded once and not changed")


class InventoryForm(forms.Form):
    kind = forms.ChoiceField(choices=InventoryKind.choices)
    taken_on = BoundedDateField(widget=forms.DateInput(attrs={"type": "date"}))
    time_of_day = forms.ChoiceField(choices=BusinessTime.choices, label="Taken at")
    taken_by = forms.CharField(max_length=150, label="Taken by (username)")
    unit = forms.ChoiceField(choices=UNIT_CHOICES)
    confirm = confirmation(
        "I confirm the amounts: an inventory is recorded once and a later one cannot predate it"
    )
