"""Sustain's settings (sustain.settings) in development mode, for the tests and the type checker
(pyproject.toml: pytest-django, django-stubs).

Production is the default (SUSTAIN_DEBUG=0, which wants a secret key and host names); these say
SUSTAIN_DEBUG=1, as `make demo` does, unless the environment already says otherwise. It is put in
the environment, and the settings module named there is then sustain.settings, so a command a
test runs in a subprocess loads the real settings in the same mode. Never a server's.
"""

import os

os.environ.setdefault("SUSTAIN_DEBUG", "1")

from sustain.settings import *  # noqa: F403

os.environ["DJANGO_SETTINGS_MODULE"] = "sustain.settings"  # for subprocesses: see above
