"""The `sustain` console script: Django's management commands with our settings.

Command names may be typed with hyphens: `sustain verify-audit` runs `verify_audit`.

Bad input is one plain line on stderr and exit status 2, never a traceback or a usage screen
(TST-03): an unknown option or a value argparse refuses ("sustain plan-series: argument
--start: the start must be a date such as 2026-11-30; got 'abc'"), a CommandError (Django
exits 1 for these unless the command says otherwise; every refusal of our commands is bad
input), or a value the rules refuse (ClinicalValueError, ValueError, OverflowError). A check
that found a problem (CheckFailed: a broken chain, a restore that does not verify; a failed
`check --deploy`) and anything else is one line and exit status 1. `--traceback` shows the
traceback, as in Django.
"""

import os
import sys
from typing import Any, NoReturn

BAD_INPUT = 2
FAILED = 1


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sustain.settings")
    argv = list(sys.argv)
    if len(argv) > 1 and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")
    import django  # noqa: PLC0415 - after the settings module is chosen
    from django.core.exceptions import ImproperlyConfigured  # noqa: PLC0415
    from django.core.management import execute_from_command_line, get_commands  # noqa: PLC0415

    try:
        django.setup()
    except ImproperlyConfigured as refused:  # unsafe or missing settings: one line too
        sys.stderr.write(f"sustain: {refused}\n")
        sys.exit(FAILED)
    if len(argv) < 2 or argv[1].startswith("-") or argv[1] == "help":
        execute_from_command_line(argv)
        return
    if argv[1] not in get_commands():
        sys.stderr.write(f"sustain: unknown command {sys.argv[1]!r}; `sustain help` lists them\n")
        sys.exit(BAD_INPUT)
    run_command(argv[1], argv[2:])


def run_command(name: str, args: list[str]) -> None:
    """Run one management command as BaseCommand.run_from_argv does, refusals in one line."""
    from django.core.management import get_commands, load_command_class  # noqa: PLC0415
    from django.core.management.base import (  # noqa: PLC0415
        CommandError,
        SystemCheckError,
        handle_default_options,
    )
    from django.db import connections  # noqa: PLC0415

    from sustain.accounts.commands import CheckFailed  # noqa: PLC0415
    from sustain_core.errors import ClinicalValueError  # noqa: PLC0415

    shown = name.replace("_", "-")

    def say(message: object, status: int) -> NoReturn:
        sys.stderr.write(f"sustain {shown}: {' '.join(str(message).split())}\n")
        sys.exit(status)

    command = load_command_class(get_commands()[name], name)
    command._called_from_command_line = True  # type: ignore[attr-defined]  # as run_from_argv
    parser = command.create_parser("sustain", name)

    def refuse(message: str) -> NoReturn:
        say(message, BAD_INPUT)

    parser.error = refuse  # type: ignore[method-assign]
    try:
        options = parser.parse_args(args)
    except CommandError as error:  # commands whose parser raises it (care's PlainCommand)
        say(error, BAD_INPUT)
    cmd_options: dict[str, Any] = vars(options)
    positional = cmd_options.pop("args", ())
    handle_default_options(options)
    try:
        command.execute(*positional, **cmd_options)
    except (CheckFailed, SystemCheckError) as error:  # a check found a problem: exit 1
        if options.traceback:
            raise
        say(error, FAILED)
    except CommandError as error:
        if options.traceback:
            raise
        say(error, BAD_INPUT if error.returncode == FAILED else error.returncode)
    except (ClinicalValueError, ValueError, OverflowError) as error:
        if options.traceback:
            raise
        say(error, BAD_INPUT)
    except Exception as error:
        if options.traceback:
            raise
        say(f"failed: {type(error).__name__}: {error}", FAILED)
    finally:
        connections.close_all()


if __name__ == "__main__":
    main()
