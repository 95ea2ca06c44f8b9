"""The protocol library: one ``<key>.v<version>.toml`` file per protocol version.

Data only, read by ``sustain_core.protocols.load_library``; the package marker lets
``importlib.resources`` find the files in a source tree and in an installed wheel.
"""
