import zoneinfo

from django import forms

from sustain.accounts.enums import Role
from sustain.accounts.models import Site


def confirmation(statement: str) -> forms.BooleanField:
    """The one confirmation before an irreversible step taken from a page: a required "I
    confirm …" box (`statement` says what follows). A form posted without it is refused before
    any service runs, naming what to confirm, and nothing changes; it works without JavaScript.
    The API confirms by calling (its paths have no such field)."""
    return forms.BooleanField(
        label=statement,
        required=True,
        error_messages={"required": "tick the box to confirm this; nothing was changed"},
    )


def roles_field(*, required: bool = True) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        choices=Role.choices, widget=forms.CheckboxSelectMultiple, label="Roles", required=required
    )


class InviteForm(forms.Form):
    """Invite a staff member: an account with no password yet, and a set-password link."""

    username = forms.CharField(max_length=150, label="Username")
    first_name = forms.CharField(max_length=150, label="First name")
    last_name = forms.CharField(max_length=150, label="Last name")
    email = forms.EmailField(label="E-mail (the invitation goes here)", max_length=254)
    roles = roles_field()
    site = forms.ModelChoiceField(queryset=Site.objects.none(), label="Site", empty_label=None)

    def __init__(self, *args: object, sites: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["site"].queryset = sites  # type: ignore[attr-defined]


class RolesForm(forms.Form):
    roles = roles_field(required=False)


class SiteDetailsForm(forms.Form):
    """The site's name, time zone, and the address and telephone printed on documents."""

    name = forms.CharField(max_length=120, label="Name")
    timezone = forms.ChoiceField(label="Time zone", choices=())
    address = forms.CharField(
        max_length=300, required=False, label="Address", widget=forms.Textarea(attrs={"rows": 3})
    )
    phone = forms.CharField(max_length=30, required=False, label="Telephone")
    privacy_email = forms.EmailField(
        max_length=254, required=False, label="Privacy officer's e-mail",
        help_text="Told at once when someone opens an emergency access to a patient here "
        "(blank: the site's auditors and clinic administrators).",
    )  # fmt: skip

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        zones = sorted(zoneinfo.available_timezones())
        self.fields["timezone"].choices = [(zone, zone) for zone in zones]  # type: ignore[attr-defined]


class CodeForm(forms.Form):
    token = forms.CharField(
        label="Code",
        max_length=16,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text="The 6 digits your authenticator app shows now, or one of your recovery codes.",
    )
