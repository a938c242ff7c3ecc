from . import events, nodes  # noqa: F401
