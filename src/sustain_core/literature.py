"""What the seed studies report, with their definitions, to set a clinic's outcomes beside.

Each figure carries its study's instrument, response and remission definitions and when it
was measured, with its citation key (clinical-facts §3a, §3b, §4a, §9). "(unconfirmed)" marks
a definition the reference sheet could not confirm from the paper. ``compare`` says in words
where a clinic's definitions differ from a study's (another instrument, another threshold,
another time point), so a figure is never set beside one measured differently without a
warning. Figures are words and numbers for display only; no decision uses them.
"""

from dataclasses import dataclass
from decimal import Decimal

from sustain_core import outcomes


@dataclass(frozen=True)
class Study:
    """One study's outcome figures and how it defined them.

    ``response`` / ``remission``: the proportion of its analysed patients (None: not
    reported); ``n`` the patients those are of. ``response_fraction``: response is a fall of at
    least this fraction of the baseline score; ``remission_max``: remission is a score at most
    this (None: not defined or not reported). ``timepoint`` says when the outcome was
    measured. ``median_relapse_days`` / ``mean_relapse_days``: time to relapse among
    responders, from the last induction infusion; ``sustained``: (weeks, proportion still
    responding) points of a survival curve; ``median_infusions_to_response``.
    ``unconfirmed``: the definitions the reference sheet marks (unconfirmed), in words.
    """

    key: str
    label: str
    instrument: str
    n: int | None
    response: Decimal | None
    remission: Decimal | None
    response_fraction: Decimal
    remission_max: int | None
    timepoint: str
    condition: str = "depression"
    median_relapse_days: int | None = None
    mean_relapse_days: int | None = None
    sustained: tuple[tuple[int, Decimal], ...] = ()
    median_infusions_to_response: int | None = None
    unconfirmed: str = ""
    citation: str = ""

    @property
    def definition(self) -> str:
        """The study's response and remission definitions in words."""
        name = instrument_name(self.instrument)
        words = f"response: {name} fall ≥ {_percent(self.response_fraction)} %"
        if self.remission_max is not None:
            words += f"; remission: {name} ≤ {self.remission_max}"
        return f"{words}; {self.timepoint}"


_INSTRUMENT_NAMES = {
    "madrs": "MADRS",
    "phq9": "PHQ-9",
    "caps5": "CAPS-5",
    "pcl5": "PCL-5",
    "gad7": "GAD-7",
    "qids_sr16": "QIDS-SR16",
}


def instrument_name(code: str) -> str:
    """An instrument's name as the studies write it (PHQ-9, MADRS); the code in capitals for
    one not listed."""
    return _INSTRUMENT_NAMES.get(code, code.upper())


MURROUGH_2013 = Study(
    key="Murrough2013",
    label="Murrough 2013 (n 24, 6 infusions over 12 days)",
    instrument="madrs",
    n=24,
    response=Decimal("0.708"),  # 17/24
    remission=None,
    response_fraction=Decimal("0.5"),
    remission_max=None,
    timepoint="at study end, 24 h after the last infusion",
    median_relapse_days=18,
    unconfirmed="the response definition is from a secondary source; remission not reported",
    citation="[Murrough2013] [Murrough2013-avyia]",
)
SHIROMA_2014 = Study(
    key="Shiroma2014",
    label="Shiroma 2014 (n 12 completers, 6 infusions MWF)",
    instrument="madrs",
    n=12,
    response=Decimal("0.916"),  # 11/12
    remission=Decimal("0.666"),  # 8/12
    response_fraction=Decimal("0.5"),
    remission_max=9,
    timepoint="after the 6th infusion",
    mean_relapse_days=16,
    sustained=((4, Decimal("0.455")),),  # 5/11 still responding at 4 weeks
    unconfirmed="MADRS assumed; response and remission definitions not in the abstract",
    citation="[Shiroma2014]",
)
MCINNES_2022 = Study(
    key="McInnes2022",
    label="McInnes 2022 (community practice, 178 practices)",
    instrument="phq9",
    n=None,
    response=Decimal("0.536"),
    remission=Decimal("0.289"),
    response_fraction=Decimal("0.5"),
    remission_max=4,
    timepoint="14–31 days post-induction",
    sustained=((4, Decimal("0.80")), (8, Decimal("0.60"))),
    unconfirmed="its relapse definition; the sustained-response figures are approximate (~)",
    citation="[McInnes2022]",
)
PHILLIPS_2019 = Study(
    key="Phillips2019",
    label="Phillips 2019 (6 infusions thrice weekly over 2 weeks)",
    instrument="madrs",
    n=None,
    response=Decimal("0.59"),
    remission=None,
    response_fraction=Decimal("0.5"),
    remission_max=None,
    timepoint="after repeated infusions",
    median_infusions_to_response=3,
    citation="[Phillips2019]",
)
KETECT_2022 = Study(
    key="Ekstrand2022",
    label="KetECT, Ekstrand 2022 (thrice weekly, up to 12 sessions)",
    instrument="madrs",
    n=None,
    response=None,
    remission=Decimal("0.46"),
    response_fraction=Decimal("0.5"),
    remission_max=10,
    timepoint="at the end of treatment (median 6 sessions to remission)",
    unconfirmed="its relapse definition (70 % of remitters relapsed within 12 months)",
    citation="[Ekstrand2022]",
)
FEDER_2021 = Study(
    key="Feder2021",
    label="Feder 2021, PTSD (n 30, 6 infusions over 2 weeks)",
    instrument="caps5",
    n=30,
    response=Decimal("0.67"),
    remission=None,
    response_fraction=Decimal("0.3"),
    remission_max=None,
    timepoint="at week 2",
    condition="ptsd",
    unconfirmed="its loss-of-response definition (median 27.5 days of durability)",
    citation="[Feder2021] [Feder2021-press]",
)

STUDIES: tuple[Study, ...] = (
    MURROUGH_2013,
    SHIROMA_2014,
    MCINNES_2022,
    PHILLIPS_2019,
    KETECT_2022,
    FEDER_2021,
)


def studies_for(condition: str) -> tuple[Study, ...]:
    """The studies of a condition ("depression", "ptsd"), in the order of ``STUDIES``; every
    depression study for a condition no study covers, so a page always has its anchors."""
    found = tuple(s for s in STUDIES if s.condition == condition)
    return found or tuple(s for s in STUDIES if s.condition == "depression")


def compare(
    study: Study, *, rules: outcomes.OutcomeRules, window_label: str = ""
) -> tuple[str, ...]:
    """Return each way the clinic's definition differs from the study's, in words (empty:
    the same definitions).

    The clinic's are its outcome instrument's rules (``rules``: the protocol's) and its
    end-of-induction window. A different instrument ("MADRS vs PHQ-9"), a different response
    fraction, a remission threshold the study lacks or sets elsewhere, and a definition the
    reference sheet could not confirm are each one warning.
    """
    warnings = []
    ours = instrument_name(rules.instrument)
    theirs = instrument_name(study.instrument)
    if ours != theirs:
        warnings.append(f"different instrument: {theirs} vs {ours}")
    if rules.response_fraction != study.response_fraction:
        warnings.append(
            f"different response threshold: fall ≥ {_percent(study.response_fraction)} % vs "
            f"≥ {_percent(rules.response_fraction)} %"
        )
    if study.remission is not None and study.remission_max != rules.remission_max:
        mine = "none" if rules.remission_max is None else f"≤ {rules.remission_max}"
        warnings.append(
            f"different remission threshold: {theirs} ≤ {study.remission_max} vs {ours} {mine}"
        )
    if window_label:
        warnings.append(f"measured {study.timepoint}; here: {window_label}")
    if study.unconfirmed:
        warnings.append(f"unconfirmed: {study.unconfirmed}")
    return tuple(warnings)


def _percent(fraction: Decimal) -> str:
    return f"{(fraction * 100).normalize():f}"
