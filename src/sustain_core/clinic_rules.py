"""A clinic's own rules: the values no source fixes, which each site sets for itself.

clinical-facts marks these unconfirmed, so they are not hidden constants: a site keeps them in
a versioned record that the roles allowed change with a reason (sustain.care.rules), and each
infusion record keeps the version it was dosed under. The defaults below are where a new site
starts; each names why it is what it is.
"""

from dataclasses import dataclass, fields
from decimal import Decimal

from sustain_core import dosing, instruments
from sustain_core.errors import OutOfRange

BASELINE_MAX_AGE_DAYS_LIMIT = 365  # a bound against typing errors, not a clinical rule
REMINDER_HOURS_MAX = 14 * 24  # a reminder at most two weeks ahead (a bound, not a rule)
REMINDERS_MAX = 4
FASTING_HOURS_MAX = 12  # a bound against typing errors, not a clinical rule
PREPARATION_MAX_CHARACTERS = 1000
BOOSTER_RISK_HORIZON_DAYS_MAX = 90  # the forecast's longest horizon worth a threshold (a bound)

# The preparation text in every reminder and calendar event. Sources (clinical-facts): fasting —
# the label advises against ketamine when nil-per-os guidelines were not followed; ASA: light
# meal 6 h, clear fluids 2 h [Ketalar-label] [ASA-fasting-2011] (§5b); a responsible adult to
# accompany the patient home [Ketalar-label] and no driving for at least 8 h [ED-scirp] (§5d).
# The exact hours ("6", "2", "until the next day") are clinic defaults: whether a
# subanaesthetic infusion needs full ASA fasting is unconfirmed (§5b). The text does not follow
# ClinicRules.fasting_food_hours and fasting_clear_fluids_hours: a site that changes those
# changes its preparation text too.
DEFAULT_PREPARATION = (
    "Please do not eat for 6 hours before your visit (clear fluids until 2 hours before), "
    "bring an adult to take you home, and do not drive until the next day."
)


def _whole(field: str, value: int, low: int, high: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise OutOfRange(
            field, f"{what} must be a whole number from {low} to {high}; got {value!r}"
        )


@dataclass(frozen=True, kw_only=True)
class ClinicRules:
    """One version of a site's rules, checked whole on construction.

    Dosing and safety (prescribers change them):
    - ``weight_max_age_days``: a dose needs a weight measured within this many days of the
      visit (default 30; 0–365; a clinic rule, unconfirmed: dosing.check_weight_recency).
    - ``baseline_max_age_days``: induction needs the protocol's baseline measures from within
      this many days (default 30; 0–365; a clinic rule, unconfirmed).
    - ``dosing_weight_basis`` and ``dosing_bmi_threshold``: dose on actual, ideal or adjusted
      body weight (Devine) from this BMI (dosing.dosing_weight_kg). Default: adjusted body
      weight from a BMI of 30 kg/m² (clinical-facts §2a: "actual vs ideal body weight; BMI >
      30 caveat", unconfirmed), so that a 300 kg patient is not dosed 150 mg on actual weight
      (issue 11); adjusted rather than ideal because it keeps 40 % of the excess weight, the
      usual drug-dosing adjustment (unconfirmed). Below the threshold the actual weight is
      used; the BMI needs a recorded height, which the dose step asks for.
    - ``qids_suicide_threshold``: a QIDS-SR16 item-12 answer at or above this raises a
      suicide-risk alert (default 1, the lowest positive answer; no published threshold).
    - ``madrs_suicide_threshold``: a MADRS item-10 (suicidal thoughts) rating at or above this
      raises a suicide-risk alert (default 2, its first anchor above none [MADRS-McDowell];
      no published threshold, unconfirmed).
    - ``ymrs_alert_threshold``: a YMRS total above this raises a mania alert (default 12, the
      remission cut-point ≤ 12 [PubCompare-CADSS] (clinical-facts §7) used as an alert
      threshold: unconfirmed; 0–59).
    - ``fiqr_min_answered_per_domain``: the fewest answered items a FIQR domain may have and
      still be scaled up (default 1; the facts give no minimum: instruments.score).
    - ``alert_emails``: e-mail the assigned prescriber when a safety alert is raised.
    - ``fasting_food_hours`` and ``fasting_clear_fluids_hours``: the pre-infusion gate asks
      for this many hours without food, and without clear fluids (default 6 and 2; 0–12
      whole hours). The Ketalar label advises against ketamine when nil-per-os guidelines
      were not followed; the ASA guideline asks for 6 h after a light meal and 2 h after
      clear fluids [Ketalar-label] [ASA-fasting-2011] (clinical-facts §5b). Whether a
      subanaesthetic infusion needs full ASA fasting is unconfirmed (§5b, §10.11), so these
      are clinic defaults.
    - ``booster_risk_percent`` and ``booster_risk_horizon_days``: the relapse forecast
      (sustain_core.relapse) suggests booking a booster by the last day before a responder's
      relapse risk, counted from today, reaches this percent, and flags the booster as due now
      when the risk over the next ``booster_risk_horizon_days`` reaches it (default 20 % over
      14 days; 1–99 % and 1–90 days). Our default: no trial-validated booster trigger exists
      (clinical-facts §4b, unconfirmed), so the clinic sets it.

    Patient messages (administrators change them):
    - ``reminder_hours``: hours before a visit that reminders go out, largest first (default
      48 and 24; clinic defaults, no source; empty: none).
    - ``visit_preparation``: the preparation text in reminders and calendars
      (DEFAULT_PREPARATION, with its sources).

    Raises OutOfRange naming the field, in plain words saying what is allowed.
    """

    weight_max_age_days: int = dosing.WEIGHT_MAX_AGE_DAYS_DEFAULT
    baseline_max_age_days: int = 30
    dosing_weight_basis: dosing.WeightBasis = dosing.WeightBasis.ADJUSTED
    dosing_bmi_threshold: Decimal = Decimal("30")
    qids_suicide_threshold: int = 1
    madrs_suicide_threshold: int = 2
    ymrs_alert_threshold: int = 12
    fiqr_min_answered_per_domain: int = 1
    alert_emails: bool = True
    fasting_food_hours: int = 6
    fasting_clear_fluids_hours: int = 2
    booster_risk_percent: int = 20
    booster_risk_horizon_days: int = 14
    reminder_hours: tuple[int, ...] = (48, 24)
    visit_preparation: str = DEFAULT_PREPARATION

    def __post_init__(self) -> None:
        dosing.validate_weight_max_age_days(self.weight_max_age_days, field="weight_max_age_days")
        _whole(
            "baseline_max_age_days",
            self.baseline_max_age_days,
            0,
            BASELINE_MAX_AGE_DAYS_LIMIT,
            "the baseline's maximum age",
        )
        if self.dosing_weight_basis not in tuple(dosing.WeightBasis):
            allowed = ", ".join(dosing.WeightBasis)
            raise OutOfRange(
                "dosing_weight_basis",
                f"the dosing weight must be one of {allowed}; got {self.dosing_weight_basis!r}",
            )
        try:
            dosing.validate_bmi_threshold(self.dosing_bmi_threshold)
        except OutOfRange as refused:
            raise OutOfRange("dosing_bmi_threshold", refused.message) from None
        _whole(
            "qids_suicide_threshold",
            self.qids_suicide_threshold,
            1,
            instruments.QIDS_SUICIDE_THRESHOLD_MAX,
            "the QIDS-SR16 item 12 alert threshold",
        )
        _whole(
            "madrs_suicide_threshold",
            self.madrs_suicide_threshold,
            1,
            instruments.MADRS_SUICIDE_THRESHOLD_MAX,
            "the MADRS item 10 alert threshold",
        )
        _whole(
            "ymrs_alert_threshold",
            self.ymrs_alert_threshold,
            0,
            instruments.YMRS_ALERT_THRESHOLD_MAX,
            "the YMRS total above which a mania alert is raised",
        )
        _whole(
            "fiqr_min_answered_per_domain",
            self.fiqr_min_answered_per_domain,
            1,
            instruments.FIQR_MIN_ANSWERED_MAX,
            "the FIQR minimum answered items per domain",
        )
        if not isinstance(self.alert_emails, bool):
            raise OutOfRange(
                "alert_emails", f"alert e-mails are on or off; got {self.alert_emails!r}"
            )
        _whole(
            "fasting_food_hours",
            self.fasting_food_hours,
            0,
            FASTING_HOURS_MAX,
            "the hours without food before an infusion",
        )
        _whole(
            "fasting_clear_fluids_hours",
            self.fasting_clear_fluids_hours,
            0,
            FASTING_HOURS_MAX,
            "the hours without clear fluids before an infusion",
        )
        _whole(
            "booster_risk_percent",
            self.booster_risk_percent,
            1,
            99,
            "the relapse risk (percent) at which a booster is suggested",
        )
        _whole(
            "booster_risk_horizon_days",
            self.booster_risk_horizon_days,
            1,
            BOOSTER_RISK_HORIZON_DAYS_MAX,
            "the days ahead over which the relapse risk is checked",
        )
        self._check_reminder_hours()
        text = self.visit_preparation
        if not isinstance(text, str) or not text.strip() or len(text) > PREPARATION_MAX_CHARACTERS:
            raise OutOfRange(
                "visit_preparation",
                f"the preparation text must be 1 to {PREPARATION_MAX_CHARACTERS} characters",
            )

    def _check_reminder_hours(self) -> None:
        hours = self.reminder_hours
        allowed = (
            f"at most {REMINDERS_MAX} different whole hours from 1 to {REMINDER_HOURS_MAX}, "
            "largest first"
        )
        if (
            not isinstance(hours, tuple)
            or len(hours) > REMINDERS_MAX
            or any(isinstance(h, bool) or not isinstance(h, int) for h in hours)
            or any(not 1 <= h <= REMINDER_HOURS_MAX for h in hours)
            or list(hours) != sorted(set(hours), reverse=True)
        ):
            raise OutOfRange("reminder_hours", f"reminder hours must be {allowed}; got {hours!r}")


DEFAULT = ClinicRules()
# Who changes what: dosing and safety rules are the prescribers', patient messages the
# administrators' (sustain.accounts.roles).
CLINICAL_FIELDS = (
    "weight_max_age_days",
    "baseline_max_age_days",
    "dosing_weight_basis",
    "dosing_bmi_threshold",
    "qids_suicide_threshold",
    "madrs_suicide_threshold",
    "ymrs_alert_threshold",
    "fiqr_min_answered_per_domain",
    "alert_emails",
    "fasting_food_hours",
    "fasting_clear_fluids_hours",
    "booster_risk_percent",
    "booster_risk_horizon_days",
)
MESSAGE_FIELDS = ("reminder_hours", "visit_preparation")


def changed_fields(old: ClinicRules, new: ClinicRules) -> tuple[str, ...]:
    """The fields whose value differs, in declaration order."""
    return tuple(
        f.name for f in fields(ClinicRules) if getattr(old, f.name) != getattr(new, f.name)
    )
