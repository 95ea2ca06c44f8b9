"""The FHIR resource types Sustain serves and where each is read from (issue 16).

A resource type (`ResourceType`) is built from one or more kinds of row (`Source`): an
Observation is a score (care.Assessment) or a vital sign (infusion.VitalsReading). Each source
names the permission a reader needs (the staff pages' own), the lookups from its row to the
patient and to its date (so `patient=` and `date=` narrow in the database), and a function that
turns one row into its resources' JSON, built with `fhir.resources.R4B` models (FHIR-06).

Resource ids are "<source prefix>-<row pk>[-<part>]" (FHIR ids: [A-Za-z0-9-.]{1,64}), so a read
by id finds its source and row without a table of its own.

Who reads is a `Caller`: a staff member's session, or a system's token (its service user and its
scopes, sustain.interop.clients). Both see only their sites' rows and only the types their
role may read; a token also only the types its scopes name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from django.db.models import Model, Q, QuerySet

from sustain.accounts.access import sites_for_user
from sustain.accounts.enums import DataCategory
from sustain.accounts.models import User
from sustain.care.models import Patient

Json = dict[str, Any]


@dataclass(frozen=True)
class Caller:
    """Who reads: a staff member by their session (their role's permissions at their sites), or
    a system client by its token (sustain.interop.clients.caller_for_client): its service user,
    the token's scopes ("system/Patient.read", "system/*.read"), what the client's role grants
    and its one site. The service user itself holds no role and no membership, so it is on no
    staff list, rota, alert or witness choice."""

    user: User
    scopes: frozenset[str] | None = None  # None: a staff session (the role alone)
    permissions: frozenset[str] | None = None  # None: the user's own (their role's)
    sites: frozenset[int] | None = None  # None: the user's memberships

    def site_ids(self) -> frozenset[int]:
        if self.sites is not None:
            return self.sites
        return frozenset(sites_for_user(self.user).values_list("pk", flat=True))

    def may(self, permission: str) -> bool:
        if self.permissions is not None:
            return permission in self.permissions
        return self.user.has_perm(permission)

    def may_read(self, source: Source) -> bool:
        if source.permission is not None and not self.may(source.permission):
            return False
        if self.scopes is None:
            return True
        return bool({f"system/{source.type}.read", "system/*.read"} & self.scopes)


@dataclass(frozen=True)
class Source:
    """One kind of row that becomes resources of `type`."""

    type: str
    prefix: str  # ids of its resources start "<prefix>-"
    permission: str | None  # the staff permission to read it; None: every staff role
    category: DataCategory  # what the read's audit event names
    rows: Callable[[frozenset[int]], QuerySet[Any]]  # its rows at these sites, ready to build
    build: Callable[[Any], list[Json]]  # one row's resources (most rows: one)
    patient: str | None = None  # the lookup from a row to its patient's id; None: no patient
    date: str | None = None  # the lookup of its date or time, for `date=`
    # Search parameters answered in the database: name → value → filter on its rows (a value
    # it cannot read raises ValueError, which the API answers as a 400 OperationOutcome).
    narrow: dict[str, Callable[[str], Q]] = field(default_factory=dict)


def resources(source: Source, rows: Iterable[Model]) -> Iterator[Json]:
    for row in rows:
        yield from source.build(row)


def site_resources(source: Source, site_ids: frozenset[int]) -> Iterator[Json]:
    """Every resource of `source` at these sites (bulk export; no access check here: the
    caller checked `Caller.may_read`)."""
    return resources(source, source.rows(site_ids).iterator(chunk_size=500))


def patient_resources(source: Source, patient: Patient) -> Iterator[Json]:
    """The patient's resources from `source` (their $everything), none for a source without a
    patient."""
    if source.patient is None:
        return iter(())
    rows = source.rows(frozenset({patient.site_id})).filter(**{source.patient: patient.pk})
    return resources(source, rows)


def model_json(resource_type: str, data: Json) -> Json:
    """`data` checked by its fhir.resources.R4B model (FHIR-06: never the default R5 package)
    and returned as that model writes it."""
    module = import_module(f"fhir.resources.R4B.{resource_type.lower()}")
    model = getattr(module, resource_type)
    return model.model_validate(data).model_dump(mode="json")
