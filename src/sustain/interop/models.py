"""What `sustain fhir-import` took from another system that has no source id of its own
(sustain.interop.importer): a medication or a weight from a FHIR resource, so a second import
of the same file takes nothing again."""

from typing import ClassVar

from django.db import models

from sustain.care.models import Patient


class ImportedResource(models.Model):
    """One source resource (type and id) taken into the patient's record."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    resource_type = models.CharField(max_length=40)
    source_id = models.CharField(max_length=64)
    taken_as = models.CharField(max_length=60)  # the row's model label ("care.Medication")
    taken_id = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering: ClassVar = ["pk"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["patient", "resource_type", "source_id"], name="imported_resource_once"
            ),
        ]
