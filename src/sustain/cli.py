"""The `sustain` console script: Django's management commands with our settings.

Command names may be typed with hyphens: `sustain verify-audit` runs `verify_audit`.
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sustain.settings")
    from django.core.management import execute_from_command_line  # noqa: PLC0415 - after env

    argv = list(sys.argv)
    if len(argv) > 1 and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
