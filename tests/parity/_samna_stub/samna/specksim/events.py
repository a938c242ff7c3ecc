from samna._record import IntRecord


class Spike(IntRecord):
    """samna.specksim.events.Spike(feature, y, x, timestamp)."""

    _fields = ("feature", "y", "x", "timestamp")
