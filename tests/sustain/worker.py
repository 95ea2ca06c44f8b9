"""Run, in the test's process, the queued tasks a `sustain worker` would run now."""

from django_tasks.base import Task
from django_tasks_db.models import DBTaskResult

from sustain.accounts.tasks import deliver_message


def hand_over_messages() -> int:
    """Run every ready `deliver_message` task as the worker would; return how many ran."""
    ran = 0
    ready = DBTaskResult.objects.ready().filter(task_path=deliver_message.module_path)
    while (result := ready.order_by("enqueued_at").first()) is not None:
        result.claim("test")
        try:
            result.set_successful(deliver_message.call(*result.args_kwargs["args"]))
        except Exception as error:  # recorded as the worker does
            result.set_failed(error)
        ran += 1
    return ran


def run_ready(task: Task) -> int:
    """Run every ready run of `task` as `sustain worker` would (claim, call, record the
    result or the failure); return how many ran."""
    ran = 0
    ready = DBTaskResult.objects.ready().filter(task_path=task.module_path)
    while (result := ready.order_by("enqueued_at").first()) is not None:
        result.claim("test")
        try:
            result.set_successful(
                task.call(*result.args_kwargs["args"], **result.args_kwargs["kwargs"])
            )
        except Exception as error:  # recorded as the worker does
            result.set_failed(error)
        ran += 1
    return ran
