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
pass, and ``feasible_start_weekdays``), ``codec`` (the dict shape, and a maintenance option's
on its own), ``library`` (the TOML files and ``PROTOCOLS``), ``titration`` (``titrate``, and
``trigger_reads``: what a rule's trigger reads) and ``recall`` (``plan_warnings``: a plan that
asks for an instrument more often than its recall period).
The public names are re-exported here.
"""

from sustain_core.protocols.codec import (
    diff_protocols,
    maintenance_option_from_dict,
    maintenance_option_to_dict,
    protocol_from_dict,
    protocol_to_dict,
)
from sustain_core.protocols.library import (
    DEPRESSION_INDUCTION_V1,
    PROTOCOLS,
    get_protocol,
    load_library,
)
from sustain_core.protocols.model import (
    DEFAULT_RELAPSE_CONFIRMATION_DAYS,
    DEFAULT_RESPONSE_FRACTION,
    PRIMARY_CONDITIONS,
    VISIT_PHASE_MINUTES_MAX,
    ChairCapability,
    Citation,
    Condition,
    DoseRegimen,
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
from sustain_core.protocols.titration import TitrationDecision, titrate, trigger_reads
from sustain_core.protocols.validation import feasible_start_weekdays
from sustain_core.staffing import VisitPhaseName

__all__ = [
    "DEFAULT_RELAPSE_CONFIRMATION_DAYS",
    "DEFAULT_RESPONSE_FRACTION",
    "DEPRESSION_INDUCTION_V1",
    "PRIMARY_CONDITIONS",
    "PROTOCOLS",
    "VISIT_PHASE_MINUTES_MAX",
    "ChairCapability",
    "Citation",
    "Condition",
    "DoseRegimen",
    "MonitoringPlan",
    "Protocol",
    "RegimenKind",
    "SafetyThresholds",
    "TitrationAction",
    "TitrationDecision",
    "TitrationRule",
    "TitrationTrigger",
    "VisitPhaseName",
    "VisitTemplate",
    "diff_protocols",
    "feasible_start_weekdays",
    "get_protocol",
    "load_library",
    "maintenance_option_from_dict",
    "maintenance_option_to_dict",
    "plan_warnings",
    "protocol_from_dict",
    "protocol_to_dict",
    "titrate",
    "trigger_reads",
]
