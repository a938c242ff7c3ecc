"""The out-of-tree plugin's tests run only where it is installed as a distribution (``nox -s thirdparty``); the
other sessions, which do not install it, skip its folder."""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("spikekit_thirdparty") else ["spikekit-thirdparty"]
