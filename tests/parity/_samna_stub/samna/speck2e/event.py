from samna._record import IntRecord


class Spike(IntRecord):
    _fields = ("layer", "feature", "x", "y", "timestamp")
