"""The package version, in one place: setup.cfg and the run manifest read it."""

__version__ = "0.1.0"
