"""The cohort simulator's inputs from a clinic's own data (`sustain simulate --site --fitted`).

The response probability is the site's own: among its courses of the protocol classified at
the end of induction (sustain_core.cohort.end_of_induction: the first score in the window
after the last induction infusion), the share that responded (a remission counts). The
Weibull time to relapse is the site's latest relapse fit (RelapseFit, written by the relapse
forecast: sustain.reports.forecast), taken at a flat trajectory (slope 0): its shape, and its
scale exp(log_scale_intercept). Reading the courses is one audited read for the site.
"""

import datetime as dt
import math

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import Site
from sustain.reports.cohort import course_records
from sustain.reports.models import RelapseFit
from sustain_core import cohort, simulate
from sustain_core.errors import ClinicalValueError
from sustain_core.protocols import Protocol

CLI = "cli"  # who read, in the audit log


def clinic_parameters(
    *, site: Site, protocol: Protocol, induction_days: int, visit_minutes: int, now: dt.datetime
) -> simulate.CohortParameters:
    """Return the simulator's cohort from the site's own response and relapse fit.

    Raises ClinicalValueError naming ``site`` when the site has no relapse fit yet, when the
    fit holds no Weibull shape and scale, or when none of its courses of the protocol has an
    end-of-induction outcome; the parameters' own errors otherwise.
    """
    fit = RelapseFit.objects.filter(site=site).order_by("-fitted_at", "-pk").first()
    if fit is None:
        raise ClinicalValueError(
            "site", f"{site.name} has no relapse model fitted yet (the forecast fits it nightly)"
        )
    try:
        shape = float(fit.parameters["shape"])
        scale = math.exp(float(fit.parameters["log_scale_intercept"]))
    except (KeyError, TypeError, ValueError, OverflowError):
        raise ClinicalValueError(
            "site", f"{site.name}'s relapse fit holds no Weibull shape and scale"
        ) from None
    records = course_records(site, protocol_key=protocol.key, now=now)
    record_event(
        actor=None, username=CLI, action=AuditAction.READ, category=DataCategory.COURSE,
        site=site, reason="simulate: the site's response",
    )  # fmt: skip
    results = [cohort.end_of_induction(record) for record in records]
    classified = [r for r in results if r.status is cohort.EndOfInduction.CLASSIFIED]
    if not classified:
        raise ClinicalValueError(
            "site",
            f"{site.name} has no {protocol.key} course with an outcome at the end of induction",
        )
    responded = sum(r.responded for r in classified)
    return simulate.CohortParameters.from_fitted(
        shape=shape,
        scale_days=scale,
        response_probability=responded / len(classified),
        induction_infusions=protocol.series.count,
        induction_days=induction_days,
        visit_minutes=visit_minutes,
        source=(
            f"{site.name}'s own: response {responded}/{len(classified)} at the end of "
            f"{protocol.key} induction; relapse Weibull shape {shape:.2f}, scale {scale:.1f} "
            f"days (fit of {fit.fitted_at:%Y-%m-%d}, at a flat trajectory)"
        ),
    )
