"""Plain words for the keys a protocol is written in: the one place a page, a form or a diff
turns a stored key into what people read (issue 13, item 7: "chronic_pain" is "Chronic pain",
"crps-schwartzman-2009 v1" the protocol's title and version).

``label`` names any coded value of a protocol (a condition, a regimen kind, a trigger, an
anchor, a drug class ...); ``protocol_name`` names a protocol; ``sourced`` splits an item's
sources out of its words and numbers them as the protocol's sources list does.
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sustain.care.enums import Condition as PrimaryCondition
from sustain_core import dosing, maintenance, measurement, medications, protocols

_LABELS: Mapping[str, str] = MappingProxyType(
    {
        # The primary conditions keep the labels patients are registered under.
        **{protocols.Condition(value): str(text) for value, text in PrimaryCondition.choices},
        protocols.Condition.BIPOLAR_DEPRESSION: "Bipolar depression",
        protocols.Condition.SUICIDAL_IDEATION: "Suicidal ideation",
        protocols.Condition.CRPS: "Complex regional pain syndrome (CRPS)",
        protocols.Condition.FIBROMYALGIA: "Fibromyalgia",
        protocols.Condition.NEUROPATHIC_PAIN: "Neuropathic pain",
        protocols.RegimenKind.PER_SESSION: "A dose per session (mg/kg)",
        protocols.RegimenKind.PER_HOUR: "A rate per hour (mg/kg/h, with a cap)",
        protocols.TitrationTrigger.NO_RESPONSE: "No response yet",
        protocols.TitrationTrigger.DISSOCIATION: "Dissociation above the hold level",
        protocols.TitrationTrigger.BLOOD_PRESSURE: "Blood pressure above the stop level",
        protocols.TitrationAction.INCREASE: "Increase",
        protocols.TitrationAction.HOLD: "Hold",
        protocols.TitrationAction.REDUCE: "Reduce",
        protocols.TitrationAction.UNCHANGED: "Unchanged",
        protocols.ExtensionFor.NOT_RESPONDED: "Partial and late responders",
        protocols.ExtensionFor.PARTIAL: "Partial responders only",
        protocols.ChairCapability.EXTENDED: "Fully reclining (extended)",
        protocols.ChairCapability.CARDIAC_MONITOR: "Cardiac monitor",
        dosing.BagConvention.WITHDRAW: "Withdraw the drug's volume from the bag first",
        dosing.BagConvention.ADD: "Add the drug to the bag (pump the final volume)",
        measurement.Anchor.BEFORE_FIRST_INFUSION: "Before the first infusion",
        measurement.Anchor.BEFORE_EACH_INFUSION: "Before each infusion",
        measurement.Anchor.AFTER_LAST_INDUCTION: "After the last induction infusion",
        measurement.Anchor.MAINTENANCE_WEEKLY: "Repeating during maintenance",
        maintenance.MaintenanceKind.FIXED_INTERVAL: "A booster at a fixed interval",
        maintenance.MaintenanceKind.TAPER: "A taper (steps of boosters)",
        maintenance.MaintenanceKind.SYMPTOM_TRIGGERED: "A booster on loss of response",
        **{code: title.capitalize() for code, title in medications.CLASS_TITLES.items()},
    }
)


def label(value: object) -> str:
    """The plain words for a coded value: "chronic_pain" (or Condition.CHRONIC_PAIN) →
    "Chronic pain". An unknown value is shown as it is, never hidden."""
    return _LABELS.get(value, str(value)) if isinstance(value, str) else str(value)


def protocol_name(protocol: protocols.Protocol) -> str:
    """A protocol as people name it: its title and version, a clinic version said so."""
    library = (protocol.key, protocol.version) in protocols.PROTOCOLS
    kind = "version" if library else "clinic version"
    return f"{protocol.title} ({kind} {protocol.version})"


HOUR = dt.timedelta(hours=1)


def _duration(hours: int) -> str:
    """24 → "24 h", 168 → "7 days", 336 → "2 weeks", 36 → "36 h"."""
    if hours >= 336 and hours % 168 == 0:
        return f"{hours // 168} weeks"
    if hours >= 48 and hours % 24 == 0:
        return f"{hours // 24} days"
    return f"{hours} h"


WEEK = dt.timedelta(days=7)


def measure_when(rule: measurement.MeasurementRule) -> str:
    """When a measurement rule asks, in words, from its anchor and times (its key is an id):
    "In the 7 days before the first infusion", "2 weeks after the last induction infusion,
    ± 3 days"."""
    before, after = rule.window_before // HOUR, rule.window_after // HOUR
    anchor = rule.anchor
    if anchor == measurement.Anchor.BEFORE_FIRST_INFUSION:
        return f"In the {_duration(before)} before the first infusion"
    if anchor == measurement.Anchor.BEFORE_EACH_INFUSION:
        start = f", from infusion {rule.from_infusion}" if rule.from_infusion > 1 else ""
        return f"In the {_duration(before)} before each infusion{start}"
    spread = (
        f", ± {_duration(before)}"
        if before == after
        else f", from {_duration(before)} before to {_duration(after)} after"
    )
    if anchor == measurement.Anchor.AFTER_LAST_INDUCTION:
        return f"{_duration(rule.offset // HOUR)} after the last induction infusion{spread}"
    every = "week" if rule.interval == WEEK else _duration((rule.interval or WEEK) // HOUR)
    return f"Every {every} during maintenance{spread}"


def due_when(protocol: protocols.Protocol | None, rule_key: str, occasion: int) -> str:
    """One occasion of a measurement rule in words: "Before infusion 3", "2 weeks after the
    last induction infusion", "Maintenance, week 2"; a rule the protocol does not hold is
    named by its key in words."""
    rules = {rule.key: rule for rule in protocol.measurement_plan} if protocol else {}
    rule = rules.get(rule_key)
    if rule is None:
        return f"{rule_key.replace('_', ' ')} {occasion}"
    if rule.anchor == measurement.Anchor.BEFORE_FIRST_INFUSION:
        return "Baseline, before the first infusion"
    if rule.anchor == measurement.Anchor.BEFORE_EACH_INFUSION:
        return f"Before infusion {occasion}"
    if rule.anchor == measurement.Anchor.AFTER_LAST_INDUCTION:
        return f"{_duration(rule.offset // HOUR)} after the last induction infusion"
    if rule.interval == WEEK:
        return f"Maintenance, week {occasion}"
    return f"Maintenance, occasion {occasion}"


@dataclass(frozen=True)
class Source:
    """A source a page's footnote points at: its number in the protocol's sources list (None
    when the protocol does not list it), its key and its reference."""

    number: int | None
    key: str
    reference: str


@dataclass(frozen=True)
class SourcedItem:
    """An item's plain words, the sources it cites and the note on them ("grade C")."""

    text: str
    sources: tuple[Source, ...]
    note: str


def sourced(protocol: protocols.Protocol, item: str) -> SourcedItem:
    """The item's plain words and its sources, numbered as in ``protocol.citations``."""
    split = protocols.split_sources(item)
    numbers = {c.key: (n, c.reference) for n, c in enumerate(protocol.citations, start=1)}
    return SourcedItem(
        text=split.text,
        sources=tuple(
            Source(numbers[key][0], key, numbers[key][1])
            if key in numbers
            else Source(None, key, "")
            for key in split.keys
        ),
        note=split.note,
    )


@dataclass(frozen=True)
class Footnotes:
    """A list of items in plain words with the foot of their page: the ``sources`` they cite,
    once each, in the order of their numbers, and the items that carry a ``notes`` on them."""

    items: tuple[SourcedItem, ...]
    sources: tuple[Source, ...]
    notes: tuple[SourcedItem, ...]


def footnotes(protocol: protocols.Protocol, items: Iterable[str]) -> Footnotes:
    """The items' plain words and the sources list for the foot of the page or form."""
    split = tuple(sourced(protocol, item) for item in items)
    found = {source.key: source for item in split for source in item.sources}
    return Footnotes(
        items=split,
        sources=tuple(
            sorted(found.values(), key=lambda s: (s.number is None, s.number or 0, s.key))
        ),
        notes=tuple(item for item in split if item.note),
    )
