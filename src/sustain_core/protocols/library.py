"""The protocol library: one TOML file per protocol version, read into ``PROTOCOLS``.

The files live in ``sustain_core/protocol_library``, named ``<key>.v<version>.toml`` and read
with ``tomllib``; a file has the shape of ``protocol_to_dict`` (``protocols.codec``), the same
JSON-ready shape the Django layer stores clinic versions in. Every number in a library file
comes from the clinical fact sheet with its citation key; a default with no primary source
says "(unconfirmed)" in the protocol's ``unconfirmed`` list or in the text that carries it.
"""

import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from types import MappingProxyType

from sustain_core.errors import ClinicalValueError
from sustain_core.protocols.codec import protocol_from_dict
from sustain_core.protocols.model import Protocol

_LIBRARY_NAME = re.compile(r"(?P<key>[a-z0-9]+(?:-[a-z0-9]+)*)\.v(?P<version>[1-9][0-9]*)\.toml")


def load_library(
    directory: Traversable | None = None,
) -> Mapping[tuple[str, int], Protocol]:
    """Load every ``<key>.v<version>.toml`` file of the protocol library, in file-name order.

    ``directory`` defaults to the package's ``protocol_library``; other files are ignored.

    Raises ClinicalValueError naming ``library`` for a ``.toml`` file whose name does not
    follow the pattern, does not match the key and version inside, or is not valid TOML;
    errors in a protocol keep their field and gain the file name in the message.
    """
    folder = directory or resources.files("sustain_core.protocol_library")
    protocols: dict[tuple[str, int], Protocol] = {}
    for entry in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if not entry.name.endswith(".toml"):
            continue
        name = _LIBRARY_NAME.fullmatch(entry.name)
        if name is None:
            raise ClinicalValueError(
                "library", f"{entry.name}: a protocol file is named <key>.v<version>.toml"
            )
        try:
            protocol = protocol_from_dict(tomllib.loads(entry.read_text(encoding="utf-8")))
        except tomllib.TOMLDecodeError as error:
            raise ClinicalValueError("library", f"{entry.name}: {error}") from error
        except ClinicalValueError as error:
            raise ClinicalValueError(error.field, f"{entry.name}: {error.message}") from error
        if (protocol.key, protocol.version) != (name["key"], int(name["version"])):
            raise ClinicalValueError(
                "library",
                f"{entry.name} holds {protocol.key} v{protocol.version}; the file name must "
                f"be {protocol.key}.v{protocol.version}.toml",
            )
        protocols[(protocol.key, protocol.version)] = protocol
    return MappingProxyType(protocols)


PROTOCOLS: Mapping[tuple[str, int], Protocol] = load_library()

# The depression standard (6 infusions over 2–3 weeks, 0.5 mg/kg over 40 min); courses
# created before the library existed pin it, so its key, version and values never change.
DEPRESSION_INDUCTION_V1 = PROTOCOLS[("depression-induction", 1)]


def get_protocol(key: str, version: int) -> Protocol:
    """Return the protocol with this key and version.

    Raises ClinicalValueError naming ``protocol`` when no such protocol exists.
    """
    try:
        return PROTOCOLS[(key, version)]
    except KeyError:
        known = ", ".join(f"{k} v{v}" for k, v in sorted(PROTOCOLS))
        raise ClinicalValueError(
            "protocol", f"unknown protocol {key} v{version}; known: {known}"
        ) from None
