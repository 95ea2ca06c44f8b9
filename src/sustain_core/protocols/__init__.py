"""Treatment protocols: the published parameters a course is planned from, and their library.

A ``Protocol`` is a frozen, versioned value: what it treats, the dose regimen, the induction
series, titration rules, a futility checkpoint, an optional extension for late responders,
the measurement plan, safety thresholds, the monitoring of an infusion day and maintenance
options, each backed by a citation. Constructing one validates it (``Protocol.__post_init__``),
so an unusable protocol is refused with a ClinicalValueError whose ``field`` names the rule it
breaks (``series``, ``regimen``, ``titration``, ``instrument``, ...).

The library is one TOML file per protocol version in ``sustain_core/protocol_library``, named
``<key>.v<version>.toml`` and read with ``tomllib`` into ``PROTOCOLS``. A file has the shape of
``protocol_to_dict``, the same JSON-ready shape the Django layer stores clinic versions in:
decimals are strings (``"0.5"``) so they stay exact, durations are whole numbers in the unit
their name says (``min_gap_hours = 48``, ``max_span_days = 12``), and absent optional values
are missing (TOML) or null (JSON). Every number in a library file comes from the clinical
fact sheet with its citation key; a default with no primary source says "(unconfirmed)" in
the protocol's ``unconfirmed`` list or in the text that carries it.

By job: ``model`` (the dataclasses and enums), ``validation`` (the checks a protocol must
pass, and ``feasible_start_weekdays``), ``guardrails`` (the platform's bounds against typing
errors no protocol may pass, and the per-session ceilings), ``codec`` (the dict shape, a
maintenance option's on its own, the differences between two versions and which of them are
clinical), ``library`` (the TOML files and ``PROTOCOLS``), ``titration`` (``titrate``, and
``trigger_reads``: what a rule's trigger reads), ``checkpoints`` (the futility review and
extending the series for partial and late responders) and ``recall`` (``plan_warnings``: a
plan that asks for an instrument more often than its recall period) and ``sources``
(``split_sources``: an item's plain words apart from the sources written in it).
The public names are re-exported here.
"""

from sustain_core.protocols import guardrails
from sustain_core.protocols.checkpoints import (
    check_extension,
    futility_review,
    scored_before_next_infusion,
)
from sustain_core.protocols.codec import (
    PROTOCOL_FORMATS,
    WORDING_AND_SCHEDULING_PATHS,
    clinical_changes,
    diff_protocols,
    maintenance_option_from_dict,
    maintenance_option_to_dict,
    protocol_from_dict,
    protocol_from_text,
    protocol_to_dict,
)
from sustain_core.protocols.library import (
    DEPRESSION_INDUCTION_V1,
    PROTOCOLS,
    get_protocol,
    load_library,
)
from sustain_core.protocols.model import (
    DEFAULT_PARTIAL_RESPONSE_FRACTION,
    DEFAULT_RELAPSE_CONFIRMATION_DAYS,
    DEFAULT_RESPONSE_FRACTION,
    PRIMARY_CONDITIONS,
    VISIT_PHASE_MINUTES_MAX,
    ChairCapability,
    Citation,
    Condition,
    DoseRegimen,
    ExtensionFor,
    MonitoringPlan,
    Protocol,
    RegimenKind,
    SafetyThresholds,
    TitrationAction,
    TitrationRule,
    TitrationTrigger,
    VisitTemplate,
)
from sustain_core.protocols.recall import plan_warnings
from sustain_core.protocols.sources import Sourced, split_sources
from sustain_core.protocols.titration import TitrationDecision, titrate, trigger_reads
from sustain_core.protocols.validation import feasible_start_weekdays
from sustain_core.staffing import VisitPhaseName

__all__ = [
    "DEFAULT_PARTIAL_RESPONSE_FRACTION",
    "DEFAULT_RELAPSE_CONFIRMATION_DAYS",
    "DEFAULT_RESPONSE_FRACTION",
    "DEPRESSION_INDUCTION_V1",
    "PRIMARY_CONDITIONS",
    "PROTOCOLS",
    "PROTOCOL_FORMATS",
    "VISIT_PHASE_MINUTES_MAX",
    "WORDING_AND_SCHEDULING_PATHS",
    "ChairCapability",
    "Citation",
    "Condition",
    "DoseRegimen",
    "ExtensionFor",
    "MonitoringPlan",
    "Protocol",
    "RegimenKind",
    "SafetyThresholds",
    "Sourced",
    "TitrationAction",
    "TitrationDecision",
    "TitrationRule",
    "TitrationTrigger",
    "VisitPhaseName",
    "VisitTemplate",
    "check_extension",
    "clinical_changes",
    "diff_protocols",
    "feasible_start_weekdays",
    "futility_review",
    "get_protocol",
    "guardrails",
    "load_library",
    "maintenance_option_from_dict",
    "maintenance_option_to_dict",
    "plan_warnings",
    "protocol_from_dict",
    "protocol_from_text",
    "protocol_to_dict",
    "scored_before_next_infusion",
    "split_sources",
    "titrate",
    "trigger_reads",
]
