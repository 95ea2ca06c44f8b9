"""What the outcomes app keeps (issue 17): each site's fitted relapse model.

A `RelapseFit` is one fit of the relapse survival model on a site's own history (with the
literature prior where the site has few relapses) and its backtest on held-out time; the
forecast pages read the latest one (sustain.reports.forecast).
"""

from typing import ClassVar

from django.db import models

from sustain.accounts.models import Site


class RelapseFit(models.Model):
    """One fit of a site's relapse model (sustain.reports.forecast): when (on the data known
    then), the model's parameters (sustain_core.relapse.RelapseModel.as_dict plus the rule
    it used), the backtest figures that go with it (never shown without them) and the
    responders' open episodes."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    fitted_at = models.DateTimeField()
    parameters = models.JSONField(default=dict)
    backtest = models.JSONField(default=dict)
    # The episode each responder had open at `fitted_at` (course, patient, its infusion and
    # the slope covariate), so the pages compute today's risk without re-reading the cohort.
    open_episodes = models.JSONField(default=list)

    class Meta:
        ordering: ClassVar = ["site", "-fitted_at"]
        permissions: ClassVar = [
            ("view_outcomes", "See a site's cohort outcomes (aggregates, no names)"),
        ]
