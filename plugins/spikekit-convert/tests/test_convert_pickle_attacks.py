"""Attacks on safe loading as it stands: each payload is hand-assembled from pickle opcodes and loaded in a child
process (a crash of the interpreter must show as a failed test, not end the test run).

Every load must end in :class:`~spikekit_convert.safe_unpickler.UnsafePickleError` naming what was refused.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap

import pytest

import spikekit.utils as su
from spikekit_convert.safe_unpickler import UnsafePickleError

PROTO2 = b"\x80\x02"
PROTO4 = b"\x80\x04"


def _load_in_child(payloads: dict[str, bytes], tmp_path) -> dict[str, list[str]]:
    """Load each payload with ``load_sinabs_model`` in a child process; its exit status must be 0."""
    files = {}
    for key, data in payloads.items():
        files[key] = str(tmp_path / f"{key}.pkl")
        with open(files[key], "wb") as f:
            f.write(data)
    script = textwrap.dedent(
        """
        import json, resource, sys
        import spikekit.utils as su
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
        out = {}
        for key, path in json.loads(sys.argv[1]).items():
            try:
                su.load_sinabs_model(path)
                out[key] = ["loaded", ""]
            except BaseException as exc:
                out[key] = [type(exc).__name__, str(exc)]
        print(json.dumps(out))
        """
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(files)], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, f"the loading process died with status {done.returncode}: {done.stderr[-1500:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ keys whose hash overflows the C stack
_DEEP = 300_000  # tuples nested this deep: CPython's tuple hash recurses without a guard


def _deep_tuple() -> bytes:
    return b")" + b"\x85" * _DEEP  # EMPTY_TUPLE, then TUPLE1 again and again


def test_a_dict_or_set_key_nested_deeply_is_refused_not_a_crash(tmp_path):
    payloads = {
        "dict_setitem": PROTO2 + b"}" + _deep_tuple() + b"K\x01s.",  # EMPTY_DICT key 1 SETITEM
        "dict_setitems": PROTO2 + b"}(" + _deep_tuple() + b"K\x01u.",  # EMPTY_DICT MARK key 1 SETITEMS
        "set_additems": PROTO4 + b"\x8f(" + _deep_tuple() + b"\x90.",  # EMPTY_SET MARK key ADDITEMS
        "builtins_set": PROTO2 + b"c__builtin__\nset\n]" + _deep_tuple() + b"a\x85R.",
        "ordered_dict": PROTO2 + b"ccollections\nOrderedDict\n](" + _deep_tuple() + b"K\x01ta\x85R.",
    }
    out = _load_in_child(payloads, tmp_path)
    for key, (kind, message) in out.items():
        assert kind == "UnsafePickleError", (key, kind, message[:300])
        assert "nested too deep" in message, (key, message[:300])


def test_keys_of_a_real_model_still_load():
    """Plain keys (strings, ints, short tuples) still load, in dicts, OrderedDicts and sets."""
    import pickle

    value = {"a": 1, 2: {(1, (2, ("x",))): None}, "s": {"p", "q"}}
    for proto in (2, 4):
        assert su.load_sinabs_model(io.BytesIO(pickle.dumps(value, protocol=proto))) == value


def test_a_dataclass_instance_as_a_key_is_refused():
    """A key whose hash runs the class's own ``__hash__`` over fields the file chose is refused."""
    dataclass_key = PROTO2 + b"}cspikekit_surrogates.peer_family\nATan\n)\x81K\x01s."
    with pytest.raises(UnsafePickleError, match="as a key of a dict"):
        su.load_sinabs_model(io.BytesIO(dataclass_key))
