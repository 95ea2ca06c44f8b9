"""The ledger pages' forms: they parse what was typed; the services judge it."""

from typing import Any

from django import forms
from django.db.models import QuerySet

from sustain.accounts.bounds import BoundedDateField
from sustain.accounts.forms import confirmation
from sustain.accounts.models import User
from sustain.ledger.models import STRENGTHS_MG_PER_ML, Container, Location, Product, Supplier

DATE = forms.DateInput(attrs={"type": "date"})


class RegistrationForm(forms.Form):
    dea_number = forms.CharField(label="DEA registration number", max_length=20)
    registrant_name = forms.CharField(label="Registrant's name", max_length=200)
    address = forms.CharField(label="Registered address", widget=forms.Textarea(attrs={"rows": 2}))


class SupplierForm(forms.Form):
    name = forms.CharField(max_length=200)
    address = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    dea_number = forms.CharField(label="DEA registration number", max_length=20)


class ProductForm(forms.Form):
    name = forms.CharField(max_length=120, initial="Ketamine hydrochloride injection")
    strength_mg_per_ml = forms.TypedChoiceField(
        label="Strength", coerce=int, choices=[(s, f"{s} mg/mL") for s in STRENGTHS_MG_PER_ML]
    )
    container_volume_ml = forms.DecimalField(
        label="Container volume (mL)", max_digits=7, decimal_places=2, min_value=0
    )
    ndc = forms.CharField(label="NDC", max_length=20)


class LocationForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="e.g. Safe, Cart 1")


class ReceiveForm(forms.Form):
    invoice_number = forms.CharField(max_length=60)
    supplier = forms.ModelChoiceField(queryset=Supplier.objects.order_by("name"))
    product = forms.ModelChoiceField(queryset=Product.objects.order_by("strength_mg_per_ml", "pk"))
    lot_number = forms.CharField(max_length=40)
    expires_on = BoundedDateField(label="Expires", widget=DATE)
    containers = forms.IntegerField(label="Number of containers")  # 1–200, its service says
    received_on = BoundedDateField(label="Date received", widget=DATE)
    location = forms.ModelChoiceField(queryset=Location.objects.none(), label="Into")

    def __init__(self, *args: Any, locations: QuerySet[Location], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = locations  # type: ignore[attr-defined]


class TransferForm(forms.Form):
    to = forms.ModelChoiceField(queryset=Location.objects.none(), label="Move to")

    def __init__(self, *args: Any, locations: QuerySet[Location], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to"].queryset = locations  # type: ignore[attr-defined]


class AdjustForm(forms.Form):
    change_mg = forms.DecimalField(
        label="Change (mg; negative takes away)", max_digits=12, decimal_places=2
    )
    reason = forms.CharField(max_length=300)


class ReturnForm(forms.Form):
    supplier = forms.ModelChoiceField(queryset=Supplier.objects.order_by("name"))
    reference = forms.CharField(label="Invoice or return reference", max_length=60)
    reason = forms.CharField(max_length=300)
    confirm = confirmation(
        "I confirm the container goes back to the supplier: this cannot be undone"
    )


class CorrectForm(forms.Form):
    reason = forms.CharField(max_length=300, label="Why this entry is reversed")
    confirm = confirmation("I confirm the entry is reversed: a correction cannot be reversed")


class DestroyForm(forms.Form):
    containers = forms.ModelMultipleChoiceField(
        queryset=Container.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    method = forms.CharField(label="Method of destruction", max_length=200)
    place = forms.CharField(label="Place of destruction", max_length=200)
    reason = forms.CharField(max_length=300)
    witness = forms.ModelChoiceField(queryset=User.objects.none(), label="First witness")
    witness_password = forms.CharField(
        label="First witness's password", widget=forms.PasswordInput, strip=False
    )
    second_witness = forms.ModelChoiceField(queryset=User.objects.none())
    second_witness_password = forms.CharField(
        label="Second witness's password", widget=forms.PasswordInput, strip=False
    )
    confirm = confirmation("I confirm these contents are destroyed: this cannot be undone")

    def __init__(
        self,
        *args: Any,
        containers: QuerySet[Container],
        witnesses: QuerySet[User],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["containers"].queryset = containers  # type: ignore[attr-defined]
        self.fields["witness"].queryset = witnesses  # type: ignore[attr-defined]
        self.fields["second_witness"].queryset = witnesses  # type: ignore[attr-defined]
