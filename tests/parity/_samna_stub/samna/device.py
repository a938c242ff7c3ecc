"""Device discovery: no device is ever attached to the stand-in."""


class DeviceInfo:
    """Named in sinabs's signatures; never instantiated here."""


def get_all_devices():
    return []
