"""Background work of the FHIR interface, run by `sustain worker` (django-tasks): a bulk
$export's files (FHIR Bulk Data Access IG v2: the server builds the files asynchronously after
the kick-off), and the hourly deletion of the files whose time ran out
(SUSTAIN_FHIR_EXPORT_HOURS; the IG's `Expires` header of the complete status)."""

import datetime as dt
import logging
import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_tasks import task

from sustain.accounts.tasks import keep_one_run_queued
from sustain.interop import clients
from sustain.interop.fhir import export
from sustain.interop.fhir.registry import Caller
from sustain.interop.models import ExportJob, ExportState, SystemClient

log = logging.getLogger(__name__)

CLEANUP_EVERY = dt.timedelta(hours=1)


def job_dir(job_id: uuid.UUID | str) -> Path:
    return Path(settings.SUSTAIN_EXPORT_DIR) / str(job_id)


def delete_job(job: ExportJob) -> None:
    """The job's files, then the job."""
    shutil.rmtree(job_dir(job.pk), ignore_errors=True)
    job.delete()


def _caller(job: ExportJob) -> Caller:
    """Who asked, as they may read now: a system client's role and site (revoked: nothing), or
    the staff member's own role and sites."""
    client = SystemClient.objects.filter(service_user=job.requested_by_id).first()
    if client is None:
        return Caller(user=job.requested_by)
    if not client.active:
        return Caller(user=job.requested_by, scopes=frozenset(), sites=frozenset())
    return clients.caller_for_client(client, frozenset(job.scopes or ()))


@task()
def run_export(job_id: str) -> int:
    """Write the job's files; returns how many resources were written. Rights are those of
    the requester now (a role or token changed since the kick-off narrows the export); sites
    those asked for that the requester still belongs to. A job deleted meanwhile (DELETE on its
    status) stops at the next type and leaves no file behind."""
    job = ExportJob.objects.select_related("requested_by").filter(pk=job_id).first()
    if job is None or job.state != ExportState.QUEUED:
        return 0
    ExportJob.objects.filter(pk=job.pk).update(
        state=ExportState.RUNNING, progress="starting", started_at=timezone.now()
    )
    caller = _caller(job)
    asked = frozenset(job.sites.values_list("pk", flat=True))
    plan = export.plan(caller, job.types)
    refused = sorted({*plan.refused, *job.refused})
    plan = export.Plan(sources=plan.sources, refused=tuple(refused))
    out = job_dir(job.pk)

    def on_type(done: int, total: int) -> None:
        if not ExportJob.objects.filter(pk=job.pk).update(progress=f"{done} of {total} types"):
            raise _Deleted

    try:
        written, errors = export.write(
            plan, asked & caller.site_ids(), out, since=job.since, on_type=on_type
        )
    except _Deleted:
        shutil.rmtree(out, ignore_errors=True)
        return 0
    except Exception as error:
        log.exception("FHIR export %s failed", job.pk)
        shutil.rmtree(out, ignore_errors=True)
        ExportJob.objects.filter(pk=job.pk).update(
            state=ExportState.FAILED,
            error=type(error).__name__,
            finished_at=timezone.now(),
            expires_at=timezone.now() + dt.timedelta(hours=settings.SUSTAIN_FHIR_EXPORT_HOURS),
        )
        return 0
    now = timezone.now()
    output = [{"type": w.type, "file": w.file, "count": w.count, "error": False} for w in written]
    if errors is not None:
        output.append({"type": errors.type, "file": errors.file, "count": errors.count,
                       "error": True})  # fmt: skip
    hours = dt.timedelta(hours=settings.SUSTAIN_FHIR_EXPORT_HOURS)
    finished = ExportJob.objects.filter(pk=job.pk).update(
        state=ExportState.DONE, progress="done", output=output, finished_at=now,
        expires_at=now + hours,
    )  # fmt: skip
    if not finished:  # deleted after its last type
        shutil.rmtree(out, ignore_errors=True)
    return sum(w.count for w in written)


class _Deleted(Exception):
    """The job was deleted while its files were being written."""


@task()
def delete_expired_exports() -> int:
    """Queue the next run first; then delete every export (done or failed) whose time ran
    out, and every one asked for that long ago and never finished (its worker was killed:
    sustain.accounts.tasks.recover_stale_tasks fails the task, not the job), files first;
    returns how many were deleted."""
    schedule_next_export_cleanup()
    now = timezone.now()
    asked_before = now - dt.timedelta(hours=settings.SUSTAIN_FHIR_EXPORT_HOURS)
    gone = 0
    expired = ExportJob.objects.filter(
        Q(expires_at__lt=now) | Q(expires_at__isnull=True, created_at__lt=asked_before)
    )
    for job in expired.order_by("created_at"):
        delete_job(job)
        gone += 1
    return gone


def schedule_next_export_cleanup() -> None:
    """Keep exactly one future run of delete_expired_exports waiting in the queue."""
    keep_one_run_queued(delete_expired_exports, every=CLEANUP_EVERY)
