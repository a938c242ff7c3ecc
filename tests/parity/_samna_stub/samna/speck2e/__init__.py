from . import configuration, event  # noqa: F401
