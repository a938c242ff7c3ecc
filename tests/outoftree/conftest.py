"""The out-of-tree plugin's tests run only where it is installed as a distribution (``nox -s thirdparty``); the
other sessions, which do not install it, skip its folder."""

import importlib.util

# previous-main holds the plugin as written against the previous release: its tests run from
# spikekit-thirdparty/tests/test_previous_main_plugin.py, in a subprocess that installs it in place of this one.
collect_ignore = ["previous-main"]
if not importlib.util.find_spec("spikekit_thirdparty"):
    collect_ignore.append("spikekit-thirdparty")
