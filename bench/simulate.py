"""Cohort simulator benchmark: `python bench/simulate.py`. Prints a Markdown table.

Issue 17 asks for at least 1,000,000 patient-years in at most 10 s on 2 cores. Each policy
simulates 1,000,000 virtual patients followed 1.5 years from their first infusion (the
Murrough preset: 70.8 % respond [Murrough2013], so non-responders leave after the 12 days of
induction): 1,500,000 patient-years of horizon, about 1,070,000 patient-years in the
program, which is the figure the table checks against 1,000,000. Best of 3 runs per policy,
``sustain_core.simulate.simulate`` plus ``summarise``, one process (numpy's random
generator and array arithmetic use one core). The same seed every time, so the figures
beside the times are the same on every machine.
"""

import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from sustain_core import simulate

PATIENTS = 1_000_000
YEARS = 1.5
SEED = 2026
RUNS = 3
BUDGET_S = 10.0
POLICIES = ("none", "fixed:7", "fixed:28", "taper:7,14,21,28", "symptom:7", "symptom:7,7",
            "forecast:0.2")  # fmt: skip


def main() -> None:
    parameters = simulate.CohortParameters.from_literature("murrough")
    print(
        f"{PATIENTS:,} patients × {YEARS} years, Murrough preset, seed {SEED}, best of {RUNS}; "
        f"{os.cpu_count()} CPUs"
    )
    print()
    print("| policy | patient-years in program | best of 3 (s) | ≤ 10 s | relapse-free days/pt-yr "
          "| infusions/pt-yr |")  # fmt: skip
    print("| --- | ---: | ---: | --- | ---: | ---: |")
    for text in POLICIES:
        policy = simulate.parse_policy(text)
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            outcome = simulate.summarise(
                simulate.simulate(parameters, policy, patients=PATIENTS, years=YEARS, seed=SEED)
            )
            times.append(time.perf_counter() - started)
        best = min(times)
        enough = outcome.patient_years >= 1_000_000 and best <= BUDGET_S
        print(
            f"| {outcome.label} | {outcome.patient_years:,.0f} | {best:.2f} | "
            f"{'yes' if enough else 'NO'} | {outcome.per_year['relapse_free_days']:.1f} | "
            f"{outcome.per_year['infusions']:.2f} |"
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print()
    print(f"peak memory {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
