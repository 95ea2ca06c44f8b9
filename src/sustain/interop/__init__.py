"""Interoperability (issue 16): the program as FHIR R4 — resources, the read-only REST API at
/fhir/R4/, tokens for other systems, bulk export, a patient's record, and import."""
