"""What the `sustain` commands that take clinical values do with a bad one (not a command).

Every refusal — an unknown option, a missing argument, a value that is not a number, a value
the clinical rules refuse, an unknown protocol or instrument — is one plain line on stderr,
"sustain dose: the weight must be a number such as 70 or 70.5; got 'abc'", and exit status 2;
never a traceback (issue 11). Called from code (call_command), the same refusal is a
CommandError with return code 2.
"""

import argparse
import re
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser

INVALID = 2
# A number as people type it: digits with an optional decimal part. No exponent ("1e2"), no
# "NaN" or "Infinity", which Decimal would otherwise accept.
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")


def refuse(message: str) -> NoReturn:
    """Stop the command with this plain-words refusal (exit status 2)."""
    raise CommandError(message, returncode=INVALID)


def number(what: str) -> Callable[[str], Decimal]:
    """An argparse type: a plain decimal number ("70", "70.5"), named `what` when refused."""

    def parse(text: str) -> Decimal:
        if not _NUMBER.fullmatch(text.strip()):
            raise argparse.ArgumentTypeError(
                f"{what} must be a number such as 70 or 70.5; got {text!r}"
            )
        return Decimal(text.strip())

    return parse


class PlainCommand(BaseCommand):
    """A command whose every refusal is one plain line on stderr and exit status 2."""

    _subcommand = ""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self._subcommand = subcommand
        parser = super().create_parser(prog_name, subcommand, **kwargs)

        def error(message: str) -> NoReturn:
            # argparse says "argument --weight-kg: ..."; the option name is what people typed.
            refuse(message)

        parser.error = error  # type: ignore[method-assign]
        return parser

    def run_from_argv(self, argv: list[str]) -> None:
        # Django parses the arguments outside its own handler of CommandError.
        try:
            super().run_from_argv(argv)
        except CommandError as error:
            self._say(error)

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute(*args, **options)
        except CommandError as error:
            if not getattr(self, "_called_from_command_line", False):
                raise
            self._say(error)

    def _say(self, error: CommandError) -> NoReturn:
        self.stderr.write(f"sustain {self._subcommand.replace('_', '-')}: {error}")
        sys.exit(error.returncode)
