"""A plain event record with integer fields, as samna's event classes have."""

import operator


class IntRecord:
    """Fields listed in ``_fields``; values are stored as Python ints (samna's fields are typed integers)."""

    _fields: tuple = ()

    def __init__(self, *args, **kwargs):
        for name in self._fields:
            object.__setattr__(self, name, 0)
        for name, value in zip(self._fields, args):
            setattr(self, name, value)
        for name, value in kwargs.items():
            setattr(self, name, value)

    def __setattr__(self, name, value):
        if name not in self._fields:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        object.__setattr__(self, name, operator.index(value))

    def __eq__(self, other):
        return type(other) is type(self) and all(getattr(self, f) == getattr(other, f) for f in self._fields)

    def __repr__(self):
        inner = ", ".join(f"{f}={getattr(self, f)}" for f in self._fields)
        return f"{type(self).__module__}.{type(self).__name__}({inner})"
