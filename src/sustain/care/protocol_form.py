"""The protocol editor as a structured form (issue 13, item 7), and a version's changes in words.

``ProtocolForm`` shows a protocol in sections — about, regimen, series, safety, measurement,
maintenance, sources — one field per value of ``sustain_core.protocols.protocol_to_dict``'s
shape, and its lists of tables (titration rules, the measurement plan, maintenance options,
citations) as rows with a blank row to add one and a box to remove one. ``to_dict()`` gives back
that shape, so the protocol is built and validated only by the core (``protocol_from_dict``)
and saved only by ``protocol_versions.save_version``: the form checks that each value is of
its kind (a number, a whole number) and names the field; every clinical rule is the core's,
and its refusals are put back on the field they name (``show_refusal``).

``changes`` says what differs between two versions, per field, in these labels.
"""

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, cast

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS

from sustain.care import labels
from sustain_core import dosing, instruments, maintenance, measurement, medications, protocols
from sustain_core.errors import ClinicalValueError, RulesBroken

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Value:
    """One value of the protocol's shape: its key in its table, label and kind.

    Kinds: text, longtext, lines (a list of text, one a line), int (required whole number),
    optint (blank: none), decimal / optdecimal (exact, kept as written), percent (a fraction
    shown as a percentage), bool, choice / choices (one or several of ``options``: an enum or
    the instruments), weekdays, steps (a taper's "count × days" pairs).
    """

    key: str
    label: str
    kind: str
    options: type[StrEnum] | None = None
    help: str = ""


@dataclass(frozen=True)
class Table:
    """A list of tables (``titration``): one row of ``values`` per item."""

    key: str
    label: str
    row: str
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Section:
    """A part of the form: top-level values, values of a sub-table (``regimen.``) and lists."""

    title: str
    values: tuple[tuple[str, Value], ...]  # (path prefix, value): ("regimen.", mg_per_kg)
    tables: tuple[Table, ...] = ()


def _v(
    key: str, label: str, kind: str, options: type[StrEnum] | None = None, help: str = ""
) -> Value:
    return Value(key, label, kind, options, help)


_INSTRUMENTS = "instruments"  # the options of an instrument field: sustain_core.instruments

SECTIONS: tuple[Section, ...] = (
    Section(
        "About",
        (
            ("", _v("title", "Title", "text")),
            (
                "",
                _v(
                    "condition",
                    "Condition patients are enrolled under",
                    "choice",
                    protocols.Condition,
                ),
            ),
            ("", _v("indications", "Indications", "choices", protocols.Condition)),
            ("", _v("notes", "Notes", "longtext")),
        ),
    ),
    Section(
        "Regimen",
        (
            ("regimen.", _v("kind", "How the dose is stated", "choice", protocols.RegimenKind)),
            (
                "regimen.",
                _v(
                    "mg_per_kg",
                    "Dose per session (mg/kg)",
                    "optdecimal",
                    help="A per-session regimen only",
                ),
            ),
            (
                "regimen.",
                _v(
                    "mg_per_kg_per_h",
                    "Rate (mg/kg/h)",
                    "optdecimal",
                    help="A per-hour regimen only",
                ),
            ),
            (
                "regimen.",
                _v("cap_mg_per_h", "Rate cap (mg/h)", "optdecimal", help="A per-hour regimen only"),
            ),
            ("regimen.", _v("infusion_minutes", "Infusion time (min)", "int")),
            (
                "regimen.",
                _v(
                    "max_single_dose_mg",
                    "Most one session may give (mg)",
                    "optdecimal",
                    help="Blank: no maximum of its own",
                ),
            ),
            ("", _v("bag_volume_ml", "Bag volume (mL)", "decimal")),
            ("", _v("bag_convention", "Making up the bag", "choice", dosing.BagConvention)),
        ),
        (
            Table(
                "titration",
                "Titration rules",
                "Titration rule",
                (
                    _v("trigger", "When", "choice", protocols.TitrationTrigger),
                    _v("action", "Then", "choice", protocols.TitrationAction),
                    _v("step_mg_per_kg", "Step (mg/kg)", "optdecimal"),
                    _v(
                        "limit_mg_per_kg",
                        "Limit (mg/kg)",
                        "optdecimal",
                        help="The maximum of an increase, the floor of a reduction",
                    ),
                    _v(
                        "after_infusion",
                        "Once this many infusions are given",
                        "optint",
                        help="Blank: 1",
                    ),
                    _v("source", "Source", "longtext"),
                ),
            ),
        ),
    ),
    Section(
        "Series",
        (
            ("series.", _v("count", "Infusions in the induction series", "int")),
            ("series.", _v("min_gap_hours", "Least time between infusions (h)", "int")),
            (
                "series.",
                _v(
                    "max_gap_hours",
                    "Most time between infusions (h)",
                    "optint",
                    help="Blank: no maximum",
                ),
            ),
            ("series.", _v("max_span_days", "Whole series within (days)", "int")),
            (
                "series.",
                _v("max_per_week", "At most a week", "optint", help="Blank: no weekly maximum"),
            ),
            (
                "series.",
                _v(
                    "weekdays",
                    "On these days",
                    "weekdays",
                    help="None ticked: any day the clinic is open",
                ),
            ),
            ("visit.", _v("check_in_minutes", "Check-in (min)", "int")),
            ("visit.", _v("recovery_minutes", "Recovery booked (min)", "int")),
            ("visit.", _v("discharge_minutes", "Discharge (min)", "int")),
            ("visit.", _v("chair_needs", "Chair needed", "choices", protocols.ChairCapability)),
            ("visit.", _v("source", "Source of the visit times", "longtext")),
            (
                "",
                _v(
                    "futility_after",
                    "Prescriber review with no response after (infusions)",
                    "optint",
                    help="Blank: no review",
                ),
            ),
            (
                "",
                _v(
                    "extension_max_infusions",
                    "Series may be extended up to (infusions)",
                    "optint",
                    help="Blank: no extension",
                ),
            ),
            ("", _v("extension_for", "Who may be extended", "choice", protocols.ExtensionFor)),
        ),
    ),
    Section(
        "Safety",
        (
            (
                "",
                _v(
                    "contraindications_absolute",
                    "Absolute contraindications",
                    "lines",
                    help="One a line",
                ),
            ),
            (
                "",
                _v(
                    "contraindications_relative",
                    "Relative contraindications",
                    "lines",
                    help="One a line",
                ),
            ),
            (
                "",
                _v(
                    "minimum_age_years",
                    "Youngest patient (years)",
                    "optint",
                    help="Blank: no minimum",
                ),
            ),
            (
                "",
                _v(
                    "required_medication_classes",
                    "Needed on the medication list before induction",
                    "choices",
                    medications.DrugClass,
                ),
            ),
            ("safety.", _v("defer_systolic_above", "Defer above systolic (mmHg)", "int")),
            ("safety.", _v("defer_diastolic_above", "Defer above diastolic (mmHg)", "int")),
            ("safety.", _v("stop_systolic_above", "Stop above systolic (mmHg)", "int")),
            ("safety.", _v("stop_diastolic_above", "Stop above diastolic (mmHg)", "int")),
            ("safety.", _v("stop_heart_rate_above", "Stop above heart rate (bpm)", "int")),
            ("safety.", _v("stop_spo2_below", "Stop below SpO₂ (%)", "int")),
            ("safety.", _v("cadss_hold_above", "Hold the dose above CADSS", "int")),
            ("safety.", _v("source", "Source of the thresholds", "longtext")),
            ("monitoring.", _v("vitals_every_minutes", "Vital signs every (min)", "int")),
            (
                "monitoring.",
                _v(
                    "cadss_after_start_minutes",
                    "CADSS taken after the start (min)",
                    "optint",
                    help="Blank: at the end of the infusion",
                ),
            ),
            (
                "monitoring.",
                _v("min_observation_minutes", "Least observation after the infusion (min)", "int"),
            ),
            (
                "monitoring.",
                _v("aldrete_min", "Lowest modified Aldrete score for discharge", "int"),
            ),
            (
                "monitoring.",
                _v("vitals_return_percent", "Vital signs back within (% of before)", "int"),
            ),
            (
                "monitoring.",
                _v("pregnancy_test", "Ask for a pregnancy test before each infusion", "bool"),
            ),
            ("monitoring.", _v("source", "Source of the monitoring", "longtext")),
        ),
    ),
    Section(
        "Measurement",
        (
            ("", _v("instrument", "Outcome measure", "choice", None)),
            ("", _v("baseline_measures", "Measured before the first infusion", "choices", None)),
            (
                "",
                _v(
                    "response_fraction", "Response: a fall from baseline of at least (%)", "percent"
                ),
            ),
            (
                "",
                _v(
                    "partial_response_fraction",
                    "Partial response: a fall of at least (%)",
                    "percent",
                ),
            ),
            (
                "",
                _v(
                    "remission_max_override",
                    "Remission at or below (total score)",
                    "optint",
                    help="Blank: the measure's own rule",
                ),
            ),
            (
                "",
                _v(
                    "relapse_confirmation_days",
                    "Days between the two measures that confirm a relapse",
                    "int",
                ),
            ),
        ),
        (
            Table(
                "measurement_plan",
                "Measurement plan",
                "Measure",
                (
                    _v("key", "Name (stable: completed items are stored against it)", "text"),
                    _v("anchor", "Timed from", "choice", measurement.Anchor),
                    _v("instruments", "Questionnaires", "choices", None),
                    _v("offset_hours", "Due after the event (h)", "optint", help="Blank: 0"),
                    _v(
                        "window_before_hours",
                        "Opens before it is due (h)",
                        "optint",
                        help="Blank: 0",
                    ),
                    _v(
                        "window_after_hours",
                        "Closes after it is due (h)",
                        "optint",
                        help="Blank: 0",
                    ),
                    _v("interval_hours", "Repeats every (h)", "optint", help="Maintenance only"),
                    _v(
                        "from_infusion",
                        "From infusion",
                        "optint",
                        help="Before each infusion only; blank: 1",
                    ),
                    _v("self_report", "The patient answers it", "bool"),
                ),
            ),
        ),
    ),
    Section(
        "Maintenance",
        (),
        (
            Table(
                "maintenance_options",
                "Maintenance options",
                "Option",
                (
                    _v("kind", "Kind", "choice", maintenance.MaintenanceKind),
                    _v("label", "Name", "text"),
                    _v(
                        "interval_days",
                        "A booster every (days)",
                        "optint",
                        help="A fixed interval only",
                    ),
                    _v(
                        "steps",
                        "Taper steps",
                        "steps",
                        help="Boosters × days apart, e.g. 4 × 7, 2 × 14",
                    ),
                    _v("min_gap_hours", "Least time after the previous infusion (h)", "optint"),
                    _v("citation", "Source", "longtext"),
                ),
            ),
        ),
    ),
    Section(
        "Sources",
        (
            (
                "",
                _v("unconfirmed", "Defaults without a primary source", "lines", help="One a line"),
            ),
            (
                "",
                _v("reported_outcomes", "What the literature reports", "lines", help="One a line"),
            ),
        ),
        (
            Table(
                "citations",
                "Citations",
                "Source",
                (
                    _v("key", "Key", "text"),
                    _v("reference", "Reference", "longtext"),
                    _v("supports", "What it supports", "text"),
                ),
            ),
        ),
    ),
)

_TABLES = {table.key: (section.title, table) for section in SECTIONS for table in section.tables}
# Every value's path in the protocol's shape → (section title, label), for errors and diffs.
_PATHS: dict[str, tuple[str, str]] = {
    prefix + value.key: (section.title, value.label)
    for section in SECTIONS
    for prefix, value in section.values
}
_TOP_SECTION = {path.split(".")[0]: title for path, (title, _) in _PATHS.items()} | {
    key: title for key, (title, _) in _TABLES.items()
}


def _name(path: str) -> str:
    """A form field's name for a path: "titration[0].source" → "titration.0.source"."""
    return re.sub(r"\[(\d+)\]", r".\1", path)


def _options(value: Value) -> list[tuple[str, str]]:
    if value.options is None:
        return [(code, i.short_title) for code, i in instruments.INSTRUMENTS.items()]
    return [(member.value, labels.label(member)) for member in value.options]


def _in_order(chosen: Iterable[str], before: Sequence[str], options: Sequence[str]) -> list[str]:
    """The chosen options, those the protocol had in its order, then the new in the form's."""
    rank = {code: i for i, code in enumerate(before)}
    return sorted(chosen, key=lambda c: (c not in rank, rank.get(c, 0), options.index(c)))


def _steps_text(steps: object) -> str:
    return ", ".join(
        f"{s['count']} × {s['interval_days']}" for s in cast(list[dict[str, int]], steps or [])
    )


_NUMBER_MAX_CHARACTERS = 20
# A protocol's numbers as people write them: no exponent, no sign (every one is positive or
# refused by the core), a bound on the digits against typing errors and runaway values.
_NUMBER = re.compile(r"^\d{1,9}(\.\d{1,9})?$")
_STEP = re.compile(r"^\s*(\d{1,9})\s*[×xX*]\s*(\d{1,9})\s*$")
_INT_DIGITS_MAX = 999_999_999  # a whole number, 9 digits at most, as _NUMBER


def _field(value: Value, *, required: bool) -> forms.Field:  # noqa: PLR0911 - one return per kind
    kind = value.kind
    common: dict[str, Any] = {"label": value.label, "help_text": value.help, "required": False}
    if kind in {"text", "decimal", "optdecimal", "percent", "steps"}:
        return forms.CharField(
            **common | {"required": required and kind in {"text", "decimal", "percent"}},
            strip=True,
            # A number is short; a bound keeps "1e999999" from being written out in full.
            max_length=None if kind in {"text", "steps"} else _NUMBER_MAX_CHARACTERS,
        )
    if kind in {"longtext", "lines"}:
        return forms.CharField(**common, strip=False, widget=forms.Textarea(attrs={"rows": 3}))
    if kind in {"int", "optint"}:
        return forms.IntegerField(
            **common | {"required": required and kind == "int"},
            min_value=-_INT_DIGITS_MAX,
            max_value=_INT_DIGITS_MAX,
        )
    if kind == "bool":
        return forms.BooleanField(**common)
    if kind == "choice":
        return forms.ChoiceField(
            **common | {"required": required}, choices=[("", "—"), *_options(value)]
        )
    if kind == "choices":
        return forms.MultipleChoiceField(
            **common, choices=_options(value), widget=forms.CheckboxSelectMultiple
        )
    if kind == "weekdays":
        return forms.TypedMultipleChoiceField(
            **common, choices=list(enumerate(WEEKDAYS)), coerce=int,
            widget=forms.CheckboxSelectMultiple,
        )  # fmt: skip
    raise ValueError(kind)  # pragma: no cover - a kind SECTIONS does not use


def _shown(value: Value, stored: object) -> object:
    """A stored value as its field shows it."""
    if stored is None:
        return [] if value.kind in {"choices", "weekdays"} else ""
    if value.kind == "lines":
        return "\n".join(cast(list[str], stored))
    if value.kind == "percent":
        return f"{(Decimal(cast(str, stored)) * 100).normalize():f}"
    if value.kind == "steps":
        return _steps_text(stored)
    return stored


class ProtocolForm(forms.Form):
    """A protocol in sections; ``to_dict()`` is its dict shape for ``protocol_from_dict``."""

    def __init__(self, protocol: protocols.Protocol, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.protocol = protocol
        self.stored = protocols.protocol_to_dict(protocol)
        self.rows: dict[str, list[int]] = {}  # each table's row numbers, the blank one last
        initial: dict[str, object] = {}
        for path, value in self._values():
            self.fields[_name(path)] = _field(value, required=True)
            initial[_name(path)] = _shown(value, self._stored(path))
        for key, (_, table) in _TABLES.items():
            items = cast(list[dict[str, object]], self.stored[key])
            posted = self._posted_rows(key)
            count = max(len(items), posted)
            self.rows[key] = list(range(count + 1))
            for index in self.rows[key]:
                for value in table.values:
                    name = f"{key}.{index}.{value.key}"
                    self.fields[name] = _field(value, required=False)
                    if index < len(items):
                        initial[name] = _shown(value, items[index].get(value.key))
                    elif value.kind == "bool":
                        initial[name] = True  # a new measure is self-report unless unticked
                self.fields[f"{key}.{index}.remove"] = forms.BooleanField(
                    label=f"Remove this {table.row.lower()}", required=False
                )
        self.initial = initial | dict(self.initial)

    @staticmethod
    def _values() -> Iterable[tuple[str, Value]]:
        for section in SECTIONS:
            for prefix, value in section.values:
                yield prefix + value.key, value

    def _stored(self, path: str) -> object:
        table, _, key = path.rpartition(".")
        source = cast(Mapping[str, object], self.stored[table]) if table else self.stored
        return source.get(key)

    def _posted_rows(self, key: str) -> int:
        """How many rows of a table the posted form had (a blank row filled in adds one)."""
        if not self.is_bound:
            return 0
        found = [
            int(m.group(1)) + 1
            for name in self.data
            if (m := re.fullmatch(rf"{re.escape(key)}\.(\d+)\.[a-z_]+", name))
        ]
        return min(max(found, default=0), 200)  # a bound against a runaway form

    # --- back to the protocol's shape -------------------------------------------------------

    def to_dict(self) -> dict[str, object]:
        """The protocol's dict shape from the cleaned form (call after ``is_valid``); the key
        and version are the protocol's, for ``save_version`` to replace."""
        cleaned = self.cleaned_data
        shape: dict[str, Any] = {"key": self.protocol.key, "version": self.protocol.version}
        for path, value in self._values():
            table, _, key = path.rpartition(".")
            target = shape.setdefault(table, {}) if table else shape
            target[key] = self._stored_value(value, cleaned[_name(path)], self._stored(path))
        for key, (_, listed) in _TABLES.items():
            items = cast(list[dict[str, object]], self.stored[key])
            rows = []
            for index in self.rows[key]:
                row = {v.key: cleaned.get(f"{key}.{index}.{v.key}") for v in listed.values}
                if cleaned.get(f"{key}.{index}.remove") or all(
                    row[v.key] in (None, "", []) for v in listed.values if v.kind != "bool"
                ):
                    continue
                before = items[index] if index < len(items) else {}
                rows.append(
                    {
                        v.key: self._stored_value(v, row[v.key], before.get(v.key))
                        for v in listed.values
                    }
                )
            shape[key] = rows
        return shape

    @staticmethod
    def _stored_value(  # noqa: PLR0911 - one return per kind of value
        value: Value, given: object, before: object
    ) -> object:
        """A cleaned field as the protocol's shape stores it. A number equal to what was stored
        keeps how it was written (0.50 for 0.5 is no change), and a list keeps its order."""
        kind = value.kind
        if kind in {"decimal", "optdecimal", "percent"}:
            if given in (None, ""):
                return None
            number = Decimal(cast(str, given))
            if kind == "percent":
                number = number / 100
            if before is not None and Decimal(cast(str, before)) == number:
                return before
            return f"{number.normalize():f}" if kind == "percent" else given
        if kind == "lines":
            return [line.strip() for line in cast(str, given).splitlines() if line.strip()]
        if kind == "choices":
            options = [code for code, _ in _options(value)]
            return _in_order(cast(list[str], given), cast(list[str], before or []), options)
        if kind == "weekdays":
            return sorted(cast(list[int], given)) or None
        if kind == "steps":
            return [
                {"count": int(m.group(1)), "interval_days": int(m.group(2))}
                for part in cast(str, given).split(",")
                if (m := _STEP.match(part))
            ]
        if kind in {"text", "choice"} and given == "":
            return None
        return given

    def clean(self) -> dict[str, Any]:
        """Each value of its kind, the field named: a number, a percentage, taper steps."""
        cleaned = super().clean() or {}
        for name in self.fields:
            value = cleaned.get(name)
            kind = self._kind(name)
            if kind in {"decimal", "optdecimal", "percent"} and value and not _NUMBER.match(value):
                example = "50" if kind == "percent" else "0.5"
                self.add_error(
                    name, f"Enter a number written with digits and a point, e.g. {example}."
                )
            elif kind == "steps" and value and not all(_STEP.match(p) for p in value.split(",")):
                self.add_error(
                    name, "Write each step as boosters × days apart, e.g. 4 × 7, 2 × 14."
                )
        return cleaned

    def _kind(self, name: str) -> str:
        parts = name.split(".")
        if len(parts) == 3 and parts[0] in _TABLES:
            found = [v for v in _TABLES[parts[0]][1].values if v.key == parts[2]]
            return found[0].kind if found else "bool"
        return next((v.kind for path, v in self._values() if path == name), "")

    # --- the core's refusals, on the field they name ----------------------------------------

    def show_refusal(self, error: ClinicalValueError) -> None:
        """Put each rule the core refused on the field its message names, in the field's
        words, or at the top of its section; the section and label name it in the summary."""
        for each in error.errors if isinstance(error, RulesBroken) else (error,):
            name, message = self._placed(each)
            self.add_error(name if name in self.fields else None, message)

    def _placed(self, error: ClinicalValueError) -> tuple[str | None, str]:
        message = error.message
        if error.field in self.fields:  # a top-level value: "instrument", "title"
            return error.field, message
        for match in re.finditer(r"[a-z_][a-z0-9_]*(?:\[\d+\])?(?:\.[a-z_][a-z0-9_]*)+", message):
            path = match.group(0)
            for candidate in (path, f"{path}_hours", f"{path}_days"):
                name = _name(candidate)
                if name in self.fields:
                    words = self.fields[name].label or candidate
                    return name, message.replace(path, f"“{words}”")
        placed = self._on_measure(error)
        if placed is not None:
            return placed
        section = _TOP_SECTION.get(error.field)
        return None, f"{section}: {message}" if section else message

    def _on_measure(self, error: ClinicalValueError) -> tuple[str, str] | None:
        """A measurement rule's refusal names the rule by its key ("rule pre_infusion: ...")
        and its own field (``from_infusion``, ``offset``): put it on that row's field."""
        named = re.match(r"rule (\S+?):? ", error.message)
        if named is None:
            return None
        for index in self.rows["measurement_plan"]:
            if self.cleaned_data.get(f"measurement_plan.{index}.key") != named.group(1):
                continue
            for key in (error.field, f"{error.field}_hours"):
                name = f"measurement_plan.{index}.{key}"
                if name in self.fields:
                    words = f"“{self.fields[name].label}”"
                    return name, error.message.replace(f" {error.field} ", f" {words} ", 1)
        return None

    def error_summary(self) -> list[tuple[str, str, str]]:
        """Each field's errors as (field name, where it is in words, message)."""
        return [
            (name, where(re.sub(r"\.(\d+)\.", r"[\1].", name)), str(message))
            for name, messages in self.errors.items()
            if name != NON_FIELD_ERRORS
            for message in messages
        ]

    def sections(self) -> list[dict[str, object]]:
        """The form laid out for its template: each section's fields, then its tables' rows."""
        laid: list[dict[str, object]] = []
        for section in SECTIONS:
            laid.append(
                {
                    "title": section.title,
                    "fields": [self[_name(prefix + v.key)] for prefix, v in section.values],
                    "tables": [
                        {
                            "label": table.label,
                            "rows": [
                                {
                                    "title": f"{table.row} {index + 1}"
                                    if index < len(self.rows[table.key]) - 1
                                    else f"Add a {table.row.lower()}",
                                    "fields": [
                                        self[f"{table.key}.{index}.{v.key}"] for v in table.values
                                    ],
                                    "remove": self[f"{table.key}.{index}.remove"],
                                    "new": index == len(self.rows[table.key]) - 1,
                                }
                                for index in self.rows[table.key]
                            ],
                        }
                        for table in section.tables
                    ],
                }
            )
        return laid


# --- a version's changes in words --------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One field that differs between two versions: where, in words, and its two values."""

    where: str
    was: str
    now: str
    clinical: bool = field(default=False)


def _words(path: str, stored: object) -> str:  # noqa: PLR0911 - one return per kind
    """A stored value in words: none, yes/no, labels for keys, weekday names, percentages."""
    if stored is None or stored == []:
        return "none"
    if isinstance(stored, bool):
        return "yes" if stored else "no"
    key = re.sub(r"\[\d+\]", "", path).rsplit(".", 1)[-1]
    if key == "weekdays":
        return ", ".join(WEEKDAYS[d] for d in cast(list[int], stored))
    if key.endswith("fraction"):
        return f"{(Decimal(cast(str, stored)) * 100).normalize():f} %"
    if key in {"instrument", "baseline_measures", "instruments"}:
        codes = [str(c) for c in (stored if isinstance(stored, list) else [stored])]
        return ", ".join(
            instruments.INSTRUMENTS[c].short_title if c in instruments.INSTRUMENTS else c
            for c in codes
        )
    if isinstance(stored, list):
        return "; ".join(labels.label(item) for item in stored)
    return labels.label(stored)


def where(path: str) -> str:
    """A path of the protocol's shape in words: "titration[0].limit_mg_per_kg" → "Regimen ›
    Titration rule 1 › Limit (mg/kg)"."""
    plain = re.sub(r"\[\d+\]", "", path)
    if plain in _PATHS:
        section, label = _PATHS[plain]
        return f"{section} › {label}"
    match = re.fullmatch(r"([a-z_]+)\[(\d+)\]\.([a-z_]+)(?:\[(\d+)\]\.([a-z_]+))?", path)
    if match and match.group(1) in _TABLES:
        section, table = _TABLES[match.group(1)]
        value_key = match.group(3)
        label = next((v.label for v in table.values if v.key == value_key), value_key)
        return f"{section} › {table.row} {int(match.group(2)) + 1} › {label}"
    return path


def changes(old: protocols.Protocol, new: protocols.Protocol) -> list[Change]:
    """Every field that differs between two versions, in words, the identity (key and version)
    left out; ``clinical`` marks a change to dosing or safety, which a medical director saves
    (``protocols.clinical_changes``). A taper's steps are one field."""
    clinical = set(protocols.clinical_changes(old, new))
    found: dict[str, Change] = {}
    before, after = protocols.protocol_to_dict(old), protocols.protocol_to_dict(new)
    for path, was, now in protocols.diff_protocols(old, new):
        if path in {"key", "version"}:
            continue
        steps = re.fullmatch(r"(maintenance_options\[(\d+)\])\.steps.*", path)
        if steps:
            top, index = steps.group(1), int(steps.group(2))
            found.setdefault(
                top + ".steps",
                Change(
                    where(top + ".steps"),
                    _steps_text(_item(before, index)),
                    _steps_text(_item(after, index)),
                    True,
                ),
            )
            continue
        found[path] = Change(where(path), _words(path, was), _words(path, now), path in clinical)
    return list(found.values())


def _item(shape: Mapping[str, object], index: int) -> object:
    options = cast(list[dict[str, object]], shape["maintenance_options"])
    return options[index]["steps"] if index < len(options) else []


class VersionForm(forms.Form):
    """What every save of a version gives besides the protocol: the site, why, and the digest
    of the version whose changes were shown (``confirm``): a save without it, or with another
    version's, shows the changes first."""

    site = forms.TypedChoiceField(label="Site", coerce=int, required=False, empty_value=None)
    change_note = forms.CharField(label="What changed and why", max_length=500)
    confirm = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, sites: Sequence[Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        site_field = cast(forms.TypedChoiceField, self.fields["site"])
        site_field.choices = [(site.pk, str(site)) for site in sites]
        if len(sites) == 1:
            site_field.widget = forms.HiddenInput()
            self.initial.setdefault("site", sites[0].pk)


def digest(protocol: protocols.Protocol) -> str:
    """A short fingerprint of a version's content, to know the one shown is the one saved."""
    text = json.dumps(protocols.protocol_to_dict(protocol), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
