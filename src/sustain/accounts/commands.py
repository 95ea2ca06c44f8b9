"""What a `sustain` command raises when a check it ran found a problem (a broken chain, a
restored copy that does not verify): exit status 1, as Django's own `check` does. Bad input is
exit status 2 (sustain.cli), so a script tells "the data is wrong" from "the command was typed
wrong"."""

from django.core.management.base import CommandError


class CheckFailed(CommandError):
    def __init__(self, message: str) -> None:
        super().__init__(message, returncode=1)
