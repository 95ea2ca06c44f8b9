"""What the outcomes app keeps (issue 17): each site's fitted relapse model.

A `RelapseFit` is one fit of the relapse survival model on a site's own history (with the
literature prior where the site has few relapses) and its backtest on held-out time; the
forecast pages read the latest one (sustain.reports.forecast).
"""

from typing import ClassVar

from django.db import models

from sustain.accounts.models import Site


class RelapseFit(models.Model):
    """One fit of a site's relapse model: when, on data up to when, the model's parameters and
    the backtest figures that go with it (never shown without them)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    fitted_at = models.DateTimeField()
    parameters = models.JSONField(default=dict)
    backtest = models.JSONField(default=dict)

    class Meta:
        ordering: ClassVar = ["site", "-fitted_at"]
        permissions: ClassVar = [
            ("view_outcomes", "See a site's cohort outcomes (aggregates, no names)"),
        ]
