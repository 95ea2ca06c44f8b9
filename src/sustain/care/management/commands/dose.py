"""`sustain dose`: one session's dose, what to draw and how to make up and run the bag.

    sustain dose --protocol depression-induction --weight-kg 70 --vial-mg-per-ml 50
    sustain dose --protocol depression-induction --weight-kg 300 --height-cm 180 --sex male \\
        --vial-mg-per-ml 50

Prints one JSON object: the prescribed dose, the volume drawn (rounded to the marks of the
syringe it is drawn in) and the dose it gives, the bag as the protocol makes it up and its pump
rate, and the steps in words. Numbers are text written by the one formatter (never "5E+1").
With a height and sex, the weight is the actual weight and the dose is on the clinic rules'
default weight basis (adjusted body weight from a BMI of 30; sustain_core.clinic_rules);
without them it is the dosing weight. Every bad value is one line on stderr and exit status 2.
"""

import json
from typing import Any

from django.core.management.base import CommandParser

from sustain.care.enums import Sex
from sustain.care.management.commands._cli import PlainCommand, number, refuse
from sustain.care.management.commands._protocol_arg import library_protocol
from sustain_core import clinic_rules, dosing
from sustain_core.errors import ClinicalValueError
from sustain_core.numbers import plain
from sustain_core.session_dose import plan_protocol_dose


class Command(PlainCommand):
    help = "One session's dose, what to draw and the pump rate for a protocol and weight, as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--protocol", required=True, help="key@version (see sustain protocols)")
        parser.add_argument(
            "--weight-kg", required=True, type=number("the weight"),
            help="the dosing weight; with --height-cm and --sex, the actual weight",
        )  # fmt: skip
        parser.add_argument("--vial-mg-per-ml", required=True, type=number("the vial strength"))
        parser.add_argument("--height-cm", type=number("the height"))
        parser.add_argument("--sex", choices=[sex.value for sex in Sex])

    def handle(self, *args: Any, **options: Any) -> None:
        protocol = library_protocol(options["protocol"])
        rules = clinic_rules.DEFAULT
        try:
            weight_kg = options["weight_kg"]
            basis: str = "as given"
            if (options["height_cm"] is None) != (options["sex"] is None):
                refuse("give --height-cm and --sex together, or neither")
            if options["height_cm"] is not None:
                basis = rules.dosing_weight_basis
                weight_kg = dosing.dosing_weight_kg(
                    actual_kg=options["weight_kg"], height_cm=options["height_cm"],
                    sex=options["sex"], basis=rules.dosing_weight_basis,
                    bmi_threshold=rules.dosing_bmi_threshold,
                )  # fmt: skip
            plan = plan_protocol_dose(
                protocol, weight_kg=weight_kg, vial_mg_per_ml=options["vial_mg_per_ml"]
            )
        except ClinicalValueError as error:
            refuse(error.message)
        made_up = plan.preparation
        values: dict[str, object] = {
            "protocol": f"{protocol.key}@{protocol.version}",
            "weight_kg": plain(options["weight_kg"]),
            "weight_basis": str(basis),
            "dosing_weight_kg": plain(weight_kg),
        }
        if isinstance(plan, dosing.DosePlan):
            values |= {"mg_per_kg": plain(plan.mg_per_kg), "prescribed_mg": plain(plan.dose_mg)}
        else:
            values |= {
                "mg_per_kg_per_h": plain(plan.mg_per_kg_per_h),
                "uncapped_dose_rate_mg_per_h": plain(plan.uncapped_dose_rate_mg_per_h),
                "capped": plan.capped,
                "hours": plain(plan.hours),
                "prescribed_mg": plain(plan.total_mg),
            }
        values |= {
            "dose_rate_mg_per_h": plain(plan.dose_rate_mg_per_h),
            "vial_mg_per_ml": plain(plan.vial_mg_per_ml),
            "syringe_ml": plain(made_up.syringe.capacity_ml),
            "drug_volume_ml": plain(made_up.drawn_ml),
            "dose_mg": plain(made_up.delivered_mg),
            "bag_convention": str(made_up.bag),
            "bag_volume_ml": plain(made_up.bag_volume_ml),
            "final_volume_ml": plain(made_up.final_volume_ml),
            "infusion_minutes": made_up.infusion_minutes,
            "pump_rate_ml_per_h": plain(made_up.pump_rate_ml_per_h, places=1),
            "preparation": list(made_up.steps),
        }
        self.stdout.write(json.dumps(values, ensure_ascii=False))
