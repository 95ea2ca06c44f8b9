"""A site's own rules (sustain_core.clinic_rules), versioned.

The rules in force are the site's latest version, or the defaults until one is saved. Only the
roles allowed change them — dosing and safety rules the prescribers, patient messages the
administrators — each change a new version with a reason and an audit event. A record made
under the rules (an infusion) keeps the version it used (`rules_for_record`).
"""

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping

from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import Site, User
from sustain.care.models import ClinicRules
from sustain_core import clinic_rules
from sustain_core.errors import ClinicalValueError

DEFAULTS_ADOPTED = "The defaults, saved when a record first needed them."
# Who may change which rules (sustain.accounts.roles grants the permissions).
_CHANGED_BY = (
    (clinic_rules.CLINICAL_FIELDS, "care.change_clinical_rules", "a prescriber"),
    (clinic_rules.MESSAGE_FIELDS, "care.change_message_rules", "a clinic administrator"),
)


def _row(site: Site, rules: clinic_rules.ClinicRules, **extra: object) -> ClinicRules:
    # Only the rules this model stores: the core may know rules not stored yet (the fasting
    # hours), which then keep the core's defaults (ClinicRules.as_rules).
    stored = {field.name for field in ClinicRules._meta.get_fields()}
    values = {k: v for k, v in dataclasses.asdict(rules).items() if k in stored}
    values["reminder_hours"] = list(rules.reminder_hours)
    return ClinicRules(site=site, **values, **extra)


def current_rules(site: Site) -> ClinicRules:
    """The rules in force at the site: its latest version, or the defaults (version 0, not
    saved) until a version is saved."""
    latest = ClinicRules.objects.filter(site=site).order_by("-version").first()
    return latest or _row(site, clinic_rules.DEFAULT, version=0, reason="")


def rules_by_site(sites: Iterable[Site]) -> dict[int, clinic_rules.ClinicRules]:
    """The rules in force at each of these sites, in one query (the defaults where none is
    saved)."""
    pks = [site.pk for site in sites]
    latest = ClinicRules.objects.filter(site=OuterRef("site")).order_by("-version")
    rows = ClinicRules.objects.filter(site__in=pks, version=Subquery(latest.values("version")[:1]))
    saved = {row.site_id: row.as_rules() for row in rows}
    return {pk: saved.get(pk, clinic_rules.DEFAULT) for pk in pks}


def history(site: Site) -> list[tuple[ClinicRules, tuple[str, ...]]]:
    """Every saved version, newest first, with the fields it changed from the one before."""
    rows = list(ClinicRules.objects.filter(site=site).select_related("changed_by"))
    versions = [row.as_rules() for row in rows]
    before = [*versions[1:], clinic_rules.DEFAULT] if versions else []
    return [
        (row, clinic_rules.changed_fields(older, new))
        for row, new, older in zip(rows, versions, before, strict=True)
    ]


@transaction.atomic
def rules_for_record(site: Site, *, now: dt.datetime) -> ClinicRules:
    """The rules in force as a saved version, for a record to keep: the first time a record
    needs a site's defaults, they are saved as version 1 (audited)."""
    current = current_rules(site)
    if current.pk is not None:
        return current
    try:
        with transaction.atomic():
            row = _row(
                site, clinic_rules.DEFAULT, version=1, changed_at=now, reason=DEFAULTS_ADOPTED
            )
            row.save(force_insert=True)
    except IntegrityError:  # another record saved them first
        return ClinicRules.objects.get(site=site, version=1)
    record_event(
        actor=None, username="system", action=AuditAction.CREATE,
        category=DataCategory.CLINIC_RULES, site=site, obj=row,
    )  # fmt: skip
    return row


@transaction.atomic
def change_rules(
    *,
    site: Site,
    changes: Mapping[str, object],
    based_on: int,
    reason: str,
    by: User,
    now: dt.datetime,
) -> ClinicRules:
    """Save the site's rules with `changes` to version `based_on` (the one the user saw) as a
    new version.

    Refused, naming the field, for a value the core refuses (sustain_core.clinic_rules), a
    change the user's role may not make, no change at all, or a blank reason; and when another
    version was saved since `based_on`. Nothing is saved on refusal.
    """
    current = current_rules(site)
    if current.version != based_on:
        raise ClinicalValueError(
            "rules", "someone changed the rules meanwhile; reload and try again"
        )
    unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(clinic_rules.ClinicRules)})
    if unknown:
        raise ClinicalValueError("rules", f"no such clinic rule: {', '.join(unknown)}")
    new = dataclasses.replace(current.as_rules(), **changes)  # type: ignore[arg-type]
    changed = clinic_rules.changed_fields(current.as_rules(), new)
    if not changed:
        raise ClinicalValueError("rules", "nothing changed")
    for names, perm, who in _CHANGED_BY:
        field = next((name for name in changed if name in names), None)
        if field is not None and not by.has_perm(perm):
            raise ClinicalValueError(field, f"only {who} changes this rule")
    if not reason.strip():
        raise ClinicalValueError("reason", "say why the rules change")
    try:
        with transaction.atomic():
            row = _row(
                site, new, version=current.version + 1, changed_by=by, changed_at=now,
                reason=reason.strip(),
            )  # fmt: skip
            row.save(force_insert=True)
    except IntegrityError:
        raise ClinicalValueError(
            "rules", "someone changed the rules meanwhile; reload and try again"
        ) from None
    record_event(
        actor=by, action=AuditAction.UPDATE, category=DataCategory.CLINIC_RULES, site=site,
        obj=row,
    )  # fmt: skip
    return row
