"""The dict shape of a protocol: TOML library files and the Django layer's JSON.

``protocol_to_dict`` writes a protocol as plain JSON-ready data and ``protocol_from_dict``
reads it back, exactly: decimals are strings (``"0.5"``) so they stay exact, durations are
whole numbers in the unit their name says (``min_gap_hours = 48``, ``max_span_days = 12``),
and absent optional values are missing (TOML) or null (JSON). A field nobody knows, a float
where a decimal string belongs, or a value of the wrong type is refused with a
ClinicalValueError naming the top-level field, with the path in the message.
``diff_protocols`` compares two protocols in that shape and ``clinical_changes`` says which
of the differences touch dosing or safety; ``protocol_from_text`` reads a TOML or JSON file's
text. A maintenance option has the same
shape on its own (``maintenance_option_to_dict``, ``maintenance_option_from_dict``), e.g. the
plan a signed review chose.
"""

import datetime as dt
import json
import re
import tomllib
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import NoReturn, TypeVar, cast, overload

from sustain_core.dosing import BagConvention
from sustain_core.errors import ClinicalValueError
from sustain_core.maintenance import MaintenanceKind, MaintenanceOption
from sustain_core.measurement import Anchor, MeasurementRule
from sustain_core.medications import DrugClass
from sustain_core.protocols.model import (
    DEFAULT_PARTIAL_RESPONSE_FRACTION,
    DEFAULT_RELAPSE_CONFIRMATION_DAYS,
    DEFAULT_RESPONSE_FRACTION,
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
from sustain_core.series import SeriesRules

_HOUR = dt.timedelta(hours=1)
_DAY = dt.timedelta(days=1)
# The path a maintenance option on its own is read and written under (errors name it).
_MAINTENANCE_OPTION = "maintenance_option"
_T = TypeVar("_T")
_E = TypeVar("_E", bound=StrEnum)
_DECIMAL = 'a decimal written as a string, e.g. "0.5"'


class _Table:
    """One table being read from TOML or JSON: typed getters that name the path on error.

    Getters with a ``default`` treat a missing or None value as that default; the others
    require the value. Every getter records its key, so ``done`` refuses fields nobody read
    (a misspelt field would otherwise be ignored silently).
    """

    def __init__(self, data: object, path: str) -> None:
        self._path = path
        if not isinstance(data, Mapping):
            _fail(path, "a table", data)
        self._data: Mapping[object, object] = data
        self._read: set[str] = set()

    def _get(self, key: str, kind: type[_T], expected: str) -> tuple[str, _T | None]:
        self._read.add(key)
        where = f"{self._path}.{key}" if self._path else key
        value = self._data.get(key)
        if value is not None and not _is(value, kind):
            _fail(where, expected, value)
        return where, cast(_T | None, value)

    def _required(self, key: str, kind: type[_T], expected: str) -> _T:
        where, value = self._get(key, kind, expected)
        if value is None:
            _fail(where, expected, value)
        return value

    def text(self, key: str, default: str | None = None) -> str:
        if default is None:
            return self._required(key, str, "text")
        value = self._get(key, str, "text")[1]
        return default if value is None else value

    def integer(self, key: str, default: int | None = None) -> int:
        if default is None:
            return self._required(key, int, "a whole number")
        value = self._get(key, int, "a whole number")[1]
        return default if value is None else value

    def optional_integer(self, key: str) -> int | None:
        return self._get(key, int, "a whole number")[1]

    def optional_duration(self, key: str, unit: dt.timedelta) -> dt.timedelta | None:
        value = self.optional_integer(key)
        return None if value is None else value * unit

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key, bool, "true or false")[1]
        return default if value is None else value

    def decimal(self, key: str, default: Decimal | None = None) -> Decimal:
        value = self.optional_decimal(key)
        if value is None:
            if default is None:
                _fail(f"{self._path}.{key}" if self._path else key, _DECIMAL, value)
            return default
        return value

    def optional_decimal(self, key: str) -> Decimal | None:
        where, text = self._get(key, str, _DECIMAL)
        if text is None:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            _fail(where, _DECIMAL, text)
        if not number.is_finite():
            _fail(where, _DECIMAL, text)
        return number

    def enum(self, key: str, kind: type[_E], default: _E | None = None) -> _E:
        allowed = f"one of {', '.join(kind)}"
        if default is not None and self._get(key, str, allowed)[1] is None:
            return default
        text = self._required(key, str, allowed)
        if text not in {member.value for member in kind}:
            _fail(f"{self._path}.{key}" if self._path else key, allowed, text)
        return kind(text)

    def enum_or(self, key: str, kind: type[_E], default: _E) -> _E:
        """The enum at ``key``, or ``default`` when it is missing or None."""
        if self._data.get(key) is None:
            self._read.add(key)
            return default
        return self.enum(key, kind)

    def enums(self, key: str, kind: type[_E]) -> tuple[_E, ...]:
        allowed = f"a list of {', '.join(kind)}"
        texts = self._list(key, str, allowed) or []
        if not set(texts) <= {member.value for member in kind}:
            _fail(f"{self._path}.{key}" if self._path else key, allowed, texts)
        return tuple(kind(text) for text in texts)

    def integers(self, key: str) -> tuple[int, ...] | None:
        values = self._list(key, int, "a list of whole numbers")
        return None if values is None else tuple(values)

    def texts(self, key: str) -> tuple[str, ...]:
        return tuple(self._list(key, str, "a list of text") or ())

    def _list(self, key: str, kind: type[_T], expected: str) -> list[_T] | None:
        where, values = self._get(key, list, expected)
        if values is not None and not all(_is(value, kind) for value in values):
            _fail(where, expected, values)
        return cast(list[_T] | None, values)

    def tables(self, key: str) -> list["_Table"]:
        where, values = self._get(key, list, "a list of tables")
        return [_Table(value, f"{where}[{index}]") for index, value in enumerate(values or ())]

    def table(self, key: str) -> "_Table":
        self._read.add(key)
        where = f"{self._path}.{key}" if self._path else key
        return _Table(self._data.get(key, {}), where)

    def done(self) -> None:
        unknown = sorted(str(key) for key in self._data if key not in self._read)
        if unknown:
            where = f"{self._path}.{unknown[0]}" if self._path else unknown[0]
            raise ClinicalValueError(_top(self._path), f"unknown field {where}")


def _is(value: object, kind: type[_T]) -> bool:
    """Return True when ``value`` is a ``kind``; a bool is not a whole number here."""
    return isinstance(value, kind) and not (kind is int and isinstance(value, bool))


def _top(where: str) -> str:
    """Return the top-level field of a path such as ``series.min_gap_hours`` or ``titration[0]``."""
    return re.split(r"[.\[]", where)[0] or "protocol"


def _fail(where: str, expected: str, value: object) -> NoReturn:
    raise ClinicalValueError(
        _top(where), f"{where or 'protocol'} must be {expected}; got {value!r}"
    )


def protocol_from_dict(data: Mapping[str, object]) -> Protocol:
    """Build a protocol from the dict shape of ``protocol_to_dict`` (a TOML file or JSON).

    Optional values may be missing or None; a missing ``bag_convention`` (a clinic version
    saved before the field existed) is ``withdraw``, the model's default, which runs the bag's
    nominal volume at the pump rate such a version was planned at. A field nobody knows, a
    float where a decimal string belongs, or a value of the wrong type is refused with a
    ClinicalValueError naming the top-level field, with the path in the message; the protocol
    is then validated like any other (``Protocol``). A number too large to compute with (e.g.
    a gap of 10²⁰ hours) is refused naming ``protocol``.
    """
    try:
        return _protocol_from_dict(data)
    except ArithmeticError as error:  # OverflowError, decimal.Overflow: a number past any use
        raise ClinicalValueError("protocol", f"a number is too large to use: {error}") from None


def _protocol_from_dict(data: Mapping[str, object]) -> Protocol:
    top = _Table(data, "")
    protocol = Protocol(
        key=top.text("key"),
        version=top.integer("version"),
        title=top.text("title"),
        condition=top.enum("condition", Condition),
        indications=top.enums("indications", Condition),
        regimen=_regimen_from(top.table("regimen")),
        bag_volume_ml=top.decimal("bag_volume_ml"),
        series=_series_from(top.table("series")),
        instrument=top.text("instrument"),
        baseline_measures=top.texts("baseline_measures"),
        citations=tuple(_citation_from(table) for table in top.tables("citations")),
        measurement_plan=tuple(_rule_from(table) for table in top.tables("measurement_plan")),
        relapse_confirmation_days=top.integer(
            "relapse_confirmation_days", DEFAULT_RELAPSE_CONFIRMATION_DAYS
        ),
        remission_max_override=top.optional_integer("remission_max_override"),
        contraindications_absolute=top.texts("contraindications_absolute"),
        contraindications_relative=top.texts("contraindications_relative"),
        minimum_age_years=top.optional_integer("minimum_age_years"),
        required_medication_classes=top.enums("required_medication_classes", DrugClass),
        titration=tuple(_titration_from(table) for table in top.tables("titration")),
        futility_after=top.optional_integer("futility_after"),
        extension_max_infusions=top.optional_integer("extension_max_infusions"),
        safety=_safety_from(top.table("safety")),
        maintenance_options=tuple(
            _maintenance_from(table) for table in top.tables("maintenance_options")
        ),
        response_fraction=top.decimal("response_fraction", DEFAULT_RESPONSE_FRACTION),
        partial_response_fraction=top.decimal(
            "partial_response_fraction", DEFAULT_PARTIAL_RESPONSE_FRACTION
        ),
        extension_for=top.enum("extension_for", ExtensionFor, ExtensionFor.NOT_RESPONDED),
        unconfirmed=top.texts("unconfirmed"),
        notes=top.text("notes", default=""),
        reported_outcomes=top.texts("reported_outcomes"),
        visit=_visit_from(top.table("visit")),
        monitoring=_monitoring_from(top.table("monitoring")),
        bag_convention=top.enum_or("bag_convention", BagConvention, BagConvention.WITHDRAW),
    )
    top.done()
    return protocol


def _regimen_from(table: _Table) -> DoseRegimen:
    regimen = DoseRegimen(
        kind=table.enum("kind", RegimenKind),
        infusion_minutes=table.integer("infusion_minutes"),
        mg_per_kg=table.optional_decimal("mg_per_kg"),
        mg_per_kg_per_h=table.optional_decimal("mg_per_kg_per_h"),
        cap_mg_per_h=table.optional_decimal("cap_mg_per_h"),
        max_single_dose_mg=table.optional_decimal("max_single_dose_mg"),
    )
    table.done()
    return regimen


def _series_from(table: _Table) -> SeriesRules:
    weekdays = table.integers("weekdays")
    rules = SeriesRules(
        count=table.integer("count"),
        min_gap=table.integer("min_gap_hours") * _HOUR,
        max_span=table.integer("max_span_days") * _DAY,
        max_gap=table.optional_duration("max_gap_hours", _HOUR),
        weekdays=None if weekdays is None else frozenset(weekdays),
        max_per_week=table.optional_integer("max_per_week"),
    )
    table.done()
    return rules


def _citation_from(table: _Table) -> Citation:
    citation = Citation(
        key=table.text("key"), reference=table.text("reference"), supports=table.text("supports")
    )
    table.done()
    return citation


def _rule_from(table: _Table) -> MeasurementRule:
    rule = MeasurementRule(
        key=table.text("key"),
        anchor=table.enum("anchor", Anchor),
        instruments=table.texts("instruments"),
        offset=table.integer("offset_hours", 0) * _HOUR,
        window_before=table.integer("window_before_hours", 0) * _HOUR,
        window_after=table.integer("window_after_hours", 0) * _HOUR,
        interval=table.optional_duration("interval_hours", _HOUR),
        self_report=table.flag("self_report", default=True),
        from_infusion=table.integer("from_infusion", 1),
    )
    table.done()
    return rule


def _titration_from(table: _Table) -> TitrationRule:
    rule = TitrationRule(
        trigger=table.enum("trigger", TitrationTrigger),
        action=table.enum("action", TitrationAction),
        step_mg_per_kg=table.optional_decimal("step_mg_per_kg"),
        limit_mg_per_kg=table.optional_decimal("limit_mg_per_kg"),
        after_infusion=table.integer("after_infusion", 1),
        source=table.text("source", default=""),
    )
    table.done()
    return rule


def _safety_from(table: _Table) -> SafetyThresholds:
    default = SafetyThresholds()
    safety = SafetyThresholds(
        defer_systolic_above=table.integer("defer_systolic_above", default.defer_systolic_above),
        defer_diastolic_above=table.integer("defer_diastolic_above", default.defer_diastolic_above),
        stop_systolic_above=table.integer("stop_systolic_above", default.stop_systolic_above),
        stop_diastolic_above=table.integer("stop_diastolic_above", default.stop_diastolic_above),
        stop_heart_rate_above=table.integer("stop_heart_rate_above", default.stop_heart_rate_above),
        stop_spo2_below=table.integer("stop_spo2_below", default.stop_spo2_below),
        cadss_hold_above=table.integer("cadss_hold_above", default.cadss_hold_above),
        source=table.text("source", default=default.source),
    )
    table.done()
    return safety


def _visit_from(table: _Table) -> VisitTemplate:
    default = VisitTemplate()
    visit = VisitTemplate(
        check_in_minutes=table.integer("check_in_minutes", default.check_in_minutes),
        recovery_minutes=table.integer("recovery_minutes", default.recovery_minutes),
        discharge_minutes=table.integer("discharge_minutes", default.discharge_minutes),
        chair_needs=frozenset(table.enums("chair_needs", ChairCapability)),
        source=table.text("source", default=default.source),
    )
    table.done()
    return visit


def _monitoring_from(table: _Table) -> MonitoringPlan:
    default = MonitoringPlan()
    monitoring = MonitoringPlan(
        vitals_every_minutes=table.integer("vitals_every_minutes", default.vitals_every_minutes),
        cadss_after_start_minutes=table.optional_integer("cadss_after_start_minutes"),
        min_observation_minutes=table.integer(
            "min_observation_minutes", default.min_observation_minutes
        ),
        aldrete_min=table.integer("aldrete_min", default.aldrete_min),
        vitals_return_percent=table.integer("vitals_return_percent", default.vitals_return_percent),
        pregnancy_test=table.flag("pregnancy_test", default=default.pregnancy_test),
        source=table.text("source", default=default.source),
    )
    table.done()
    return monitoring


def _maintenance_from(table: _Table) -> MaintenanceOption:
    steps = []
    for step in table.tables("steps"):
        steps.append((step.integer("count"), step.integer("interval_days") * _DAY))
        step.done()
    option = MaintenanceOption(
        kind=table.enum("kind", MaintenanceKind),
        label=table.text("label"),
        interval=table.optional_duration("interval_days", _DAY),
        steps=tuple(steps),
        min_gap=table.optional_duration("min_gap_hours", _HOUR),
        citation=table.text("citation", default=""),
    )
    table.done()
    return option


def protocol_to_dict(protocol: Protocol) -> dict[str, object]:
    """Return the protocol as plain JSON-ready data, the shape ``protocol_from_dict`` reads.

    Decimals become strings, durations whole numbers in the unit the key names, enums their
    values, weekdays a sorted list; unset optional values are None. The round trip
    ``protocol_from_dict(protocol_to_dict(p)) == p`` is exact.

    Raises ClinicalValueError naming the top-level field when a duration is not a whole
    number of its unit (e.g. a 90-minute min_gap, which ``min_gap_hours`` cannot hold).
    """
    regimen, series, safety = protocol.regimen, protocol.series, protocol.safety
    return {
        "key": protocol.key,
        "version": protocol.version,
        "title": protocol.title,
        "condition": protocol.condition.value,
        "indications": [indication.value for indication in protocol.indications],
        "regimen": {
            "kind": regimen.kind.value,
            "infusion_minutes": regimen.infusion_minutes,
            "mg_per_kg": _decimal_text(regimen.mg_per_kg),
            "mg_per_kg_per_h": _decimal_text(regimen.mg_per_kg_per_h),
            "cap_mg_per_h": _decimal_text(regimen.cap_mg_per_h),
            "max_single_dose_mg": _decimal_text(regimen.max_single_dose_mg),
        },
        "bag_volume_ml": str(protocol.bag_volume_ml),
        "bag_convention": protocol.bag_convention.value,
        "series": {
            "count": series.count,
            "min_gap_hours": _whole(series.min_gap, _HOUR, "series.min_gap_hours"),
            "max_span_days": _whole(series.max_span, _DAY, "series.max_span_days"),
            "max_gap_hours": _whole(series.max_gap, _HOUR, "series.max_gap_hours"),
            "weekdays": None if series.weekdays is None else sorted(series.weekdays),
            "max_per_week": series.max_per_week,
        },
        "instrument": protocol.instrument,
        "baseline_measures": list(protocol.baseline_measures),
        "citations": [
            {"key": c.key, "reference": c.reference, "supports": c.supports}
            for c in protocol.citations
        ],
        "measurement_plan": [
            _rule_to_dict(rule, f"measurement_plan[{index}]")
            for index, rule in enumerate(protocol.measurement_plan)
        ],
        "relapse_confirmation_days": protocol.relapse_confirmation_days,
        "remission_max_override": protocol.remission_max_override,
        "contraindications_absolute": list(protocol.contraindications_absolute),
        "contraindications_relative": list(protocol.contraindications_relative),
        "minimum_age_years": protocol.minimum_age_years,
        "required_medication_classes": [
            code.value for code in protocol.required_medication_classes
        ],
        "titration": [
            {
                "trigger": rule.trigger.value,
                "action": rule.action.value,
                "step_mg_per_kg": _decimal_text(rule.step_mg_per_kg),
                "limit_mg_per_kg": _decimal_text(rule.limit_mg_per_kg),
                "after_infusion": rule.after_infusion,
                "source": rule.source,
            }
            for rule in protocol.titration
        ],
        "futility_after": protocol.futility_after,
        "extension_max_infusions": protocol.extension_max_infusions,
        "safety": {
            "defer_systolic_above": safety.defer_systolic_above,
            "defer_diastolic_above": safety.defer_diastolic_above,
            "stop_systolic_above": safety.stop_systolic_above,
            "stop_diastolic_above": safety.stop_diastolic_above,
            "stop_heart_rate_above": safety.stop_heart_rate_above,
            "stop_spo2_below": safety.stop_spo2_below,
            "cadss_hold_above": safety.cadss_hold_above,
            "source": safety.source,
        },
        "maintenance_options": [
            _maintenance_to_dict(option, f"maintenance_options[{index}]")
            for index, option in enumerate(protocol.maintenance_options)
        ],
        "response_fraction": str(protocol.response_fraction),
        "partial_response_fraction": str(protocol.partial_response_fraction),
        "extension_for": protocol.extension_for.value,
        "unconfirmed": list(protocol.unconfirmed),
        "notes": protocol.notes,
        "reported_outcomes": list(protocol.reported_outcomes),
        "visit": {
            "check_in_minutes": protocol.visit.check_in_minutes,
            "recovery_minutes": protocol.visit.recovery_minutes,
            "discharge_minutes": protocol.visit.discharge_minutes,
            "chair_needs": sorted(protocol.visit.chair_needs),
            "source": protocol.visit.source,
        },
        "monitoring": {
            "vitals_every_minutes": protocol.monitoring.vitals_every_minutes,
            "cadss_after_start_minutes": protocol.monitoring.cadss_after_start_minutes,
            "min_observation_minutes": protocol.monitoring.min_observation_minutes,
            "aldrete_min": protocol.monitoring.aldrete_min,
            "vitals_return_percent": protocol.monitoring.vitals_return_percent,
            "pregnancy_test": protocol.monitoring.pregnancy_test,
            "source": protocol.monitoring.source,
        },
    }


def _rule_to_dict(rule: MeasurementRule, where: str) -> dict[str, object]:
    return {
        "key": rule.key,
        "anchor": rule.anchor.value,
        "instruments": list(rule.instruments),
        "offset_hours": _whole(rule.offset, _HOUR, f"{where}.offset_hours"),
        "window_before_hours": _whole(rule.window_before, _HOUR, f"{where}.window_before_hours"),
        "window_after_hours": _whole(rule.window_after, _HOUR, f"{where}.window_after_hours"),
        "interval_hours": _whole(rule.interval, _HOUR, f"{where}.interval_hours"),
        "self_report": rule.self_report,
        "from_infusion": rule.from_infusion,
    }


def _maintenance_to_dict(option: MaintenanceOption, where: str) -> dict[str, object]:
    return {
        "kind": option.kind.value,
        "label": option.label,
        "interval_days": _whole(option.interval, _DAY, f"{where}.interval_days"),
        "steps": [
            {"count": count, "interval_days": _whole(interval, _DAY, f"{where}.steps")}
            for count, interval in option.steps
        ],
        "min_gap_hours": _whole(option.min_gap, _HOUR, f"{where}.min_gap_hours"),
        "citation": option.citation,
    }


def maintenance_option_to_dict(option: MaintenanceOption) -> dict[str, object]:
    """Return a maintenance option as plain JSON-ready data, the shape of a protocol's
    ``maintenance_options`` items, which ``maintenance_option_from_dict`` reads back exactly.

    The kind is its value; ``interval_days`` and each step's ``interval_days`` are whole days,
    ``min_gap_hours`` whole hours (a 36 h minimum gap stays 36 h); unset values are None.

    Raises ClinicalValueError naming ``maintenance_option`` when a duration is not a whole
    number of its unit (e.g. a 90-minute min_gap).
    """
    return _maintenance_to_dict(option, _MAINTENANCE_OPTION)


def maintenance_option_from_dict(data: Mapping[str, object]) -> MaintenanceOption:
    """Build a maintenance option from the shape of ``maintenance_option_to_dict``.

    Optional values may be missing or None. An unknown field or a value of the wrong type is
    refused with a ClinicalValueError naming ``maintenance_option``, with the path in the
    message; the option is then validated like any other (``MaintenanceOption``).
    """
    return _maintenance_from(_Table(data, _MAINTENANCE_OPTION))


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@overload
def _whole(duration: dt.timedelta, unit: dt.timedelta, where: str) -> int: ...
@overload
def _whole(duration: dt.timedelta | None, unit: dt.timedelta, where: str) -> int | None: ...
def _whole(duration: dt.timedelta | None, unit: dt.timedelta, where: str) -> int | None:
    """Return the duration as a whole number of ``unit`` (hours or days), refusing a remainder."""
    if duration is None:
        return None
    if duration % unit:
        unit_name = "hours" if unit == _HOUR else "days"
        raise ClinicalValueError(
            _top(where), f"{where} must be a whole number of {unit_name}; got {duration}"
        )
    return duration // unit


def diff_protocols(old: Protocol, new: Protocol) -> list[tuple[str, object, object]]:
    """Return every field that differs between two protocols as (path, old value, new value).

    Values and paths are those of ``protocol_to_dict``: ``series.min_gap_hours``, and the
    items of a list of tables by position, ``titration[0].limit_mg_per_kg``; a list of plain
    values (weekdays, instruments) is one value. A path present on one side only (an added or
    removed item) is None on the other. Order: the paths of ``old`` in order, then paths only
    ``new`` has.
    """
    before, after = _flatten(protocol_to_dict(old)), _flatten(protocol_to_dict(new))
    paths = list(before) + [path for path in after if path not in before]
    return [
        (path, before.get(path), after.get(path))
        for path in paths
        if before.get(path) != after.get(path)
    ]


_TABLE_LISTS = frozenset(
    {"citations", "measurement_plan", "titration", "maintenance_options", "steps"}
)


def _flatten(value: object, path: str = "") -> dict[str, object]:
    """Return {path: value} for every leaf; lists of tables are expanded item by item."""
    if not isinstance(value, Mapping):
        return {path: value}
    flat: dict[str, object] = {}
    for key, item in value.items():
        child = f"{path}.{key}" if path else str(key)
        if key in _TABLE_LISTS:
            for index, entry in enumerate(cast(list[object], item)):
                flat.update(_flatten(entry, f"{child}[{index}]"))
        else:
            flat.update(_flatten(item, child))
    return flat


# The paths (list positions left out) whose change is wording or scheduling only; every other
# path is dosing or safety, so a field added later needs a medical director until it is
# listed here.
WORDING_AND_SCHEDULING_PATHS = frozenset(
    {
        # the version's identity and its words
        "key", "version", "title", "notes", "unconfirmed", "reported_outcomes",
        "citations.key", "citations.reference", "citations.supports",
        "safety.source", "visit.source", "monitoring.source", "titration.source",
        "maintenance_options.label", "maintenance_options.citation",
        # scheduling: which days, and the chair time around the infusion and its recovery
        "series.weekdays", "visit.check_in_minutes", "visit.discharge_minutes",
        "visit.chair_needs",
    }
)  # fmt: skip


def clinical_changes(old: Protocol, new: Protocol) -> list[str]:
    """Return the paths of ``diff_protocols(old, new)`` that change dosing or safety.

    Everything is dosing or safety except the wording and scheduling paths of
    ``WORDING_AND_SCHEDULING_PATHS``: the title, notes, citations, unconfirmed list, reported
    outcomes and the ``source`` texts, the maintenance options' labels and citations, the
    weekdays and the check-in, discharge and chair needs of a visit. So the regimen, bag,
    titration (but its sources), safety, monitoring, the series' count, gaps, span and weekly
    maximum, the visit's recovery, contraindications, instruments, the measurement plan,
    response and relapse rules, futility, extension and maintenance plans are clinical, and a
    field nobody has classified counts as clinical. Paths are those of ``diff_protocols``
    (``titration[0].limit_mg_per_kg``), in its order.
    """
    return [
        path
        for path, _, _ in diff_protocols(old, new)
        if re.sub(r"\[\d+\]", "", path) not in WORDING_AND_SCHEDULING_PATHS
    ]


PROTOCOL_FORMATS = ("toml", "json")


def protocol_from_text(text: str, *, fmt: str) -> Protocol:
    """Build a protocol from the text of a file, ``fmt`` "toml" or "json", in the shape of
    ``protocol_to_dict`` (the library's TOML files, a clinic version's JSON).

    Raises ClinicalValueError naming ``protocol`` for another format or text that is not valid
    TOML or JSON; otherwise the refusals of ``protocol_from_dict`` (RulesBroken when several
    rules are broken).
    """
    data: object
    if fmt == "toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ClinicalValueError("protocol", f"not valid TOML: {error}") from None
    elif fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ClinicalValueError(
                "protocol",
                f"not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}",
            ) from None
    else:
        raise ClinicalValueError(
            "protocol", f"a protocol file is {' or '.join(PROTOCOL_FORMATS)}; got {fmt!r}"
        )
    return protocol_from_dict(cast(Mapping[str, object], data))
