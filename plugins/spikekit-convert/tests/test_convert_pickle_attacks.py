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


# ------------------------------------------------------------ one object handed to copying calls again and again
def _again(setup: bytes, call: bytes, times: int) -> bytes:
    """``setup`` leaves the object in memo 1 and the callable in memo 2; then ``times`` x ``call`` (which must push
    the result), each result appended to a list that keeps it alive."""
    return PROTO2 + setup + b"]" + call * times + b"."


def _string(n: int) -> bytes:
    return b"X" + n.to_bytes(4, "little") + b"a" * n + b"q\x01"  # BINUNICODE, BINPUT 1


def _int_list(n: int) -> bytes:
    return b"(" + b"".join(b"J" + i.to_bytes(4, "little") for i in range(n)) + b"lq\x01"  # MARK ints LIST BINPUT 1


def test_a_string_encoded_again_and_again_is_refused(tmp_path):
    """A 4 MB file once held 1.2 GB: one string, ``_codecs.encode`` 300 times through the memo."""
    setup = _string(4_000_000) + b"c_codecs\nencode\nq\x02"
    call = b"h\x02h\x01X\x06\x00\x00\x00latin1\x86Ra"  # GET encode, GET text, 'latin1', TUPLE2, REDUCE, APPEND
    out = _load_in_child({"encode": _again(setup, call, 300)}, tmp_path)
    kind, message = out["encode"]
    assert kind == "UnsafePickleError" and "_codecs.encode" in message and "copy more" in message, out


@pytest.mark.parametrize(
    ("name", "glob", "arg_is_pairs"),
    [
        ("builtins.set", b"c__builtin__\nset\n", False),
        ("collections.OrderedDict", b"ccollections\nOrderedDict\n", True),
    ],
)
def test_a_list_copied_again_and_again_is_refused(name, glob, arg_is_pairs):
    n = 200_000
    items = b"".join((b"J" + i.to_bytes(4, "little") + b"N\x86") if arg_is_pairs else (b"J" + i.to_bytes(4, "little"))
                     for i in range(n))  # fmt: skip
    setup = b"(" + items + b"lq\x01" + glob + b"q\x02"
    data = _again(setup, b"h\x02h\x01\x85Ra", 100)  # 100 copies of a 200,000-item list: 20 million items
    with pytest.raises(UnsafePickleError, match=f"{name}: the file makes the loader copy more"):
        su.load_sinabs_model(io.BytesIO(data))


def test_a_state_built_again_and_again_is_refused():
    n = 200_000
    state = b"}(" + b"".join(_key(i) + b"N" for i in range(n)) + b"uq\x01"  # a dict of n attributes, memo 1
    layer = b"ctorch.nn.modules.module\nModule\n)\x81q\x02"  # NEWOBJ Module, memo 2
    data = PROTO2 + state + layer + b"h\x01b" * 100 + b"."  # BUILD it 100 times with the same state
    with pytest.raises(UnsafePickleError, match="BUILD of Module: the file makes the loader copy more"):
        su.load_sinabs_model(io.BytesIO(data))


def _key(i: int) -> bytes:
    text = f"a{i}".encode()
    return b"\x8c" + bytes([len(text)]) + text  # SHORT_BINUNICODE


def test_a_torchscript_archive_is_refused_by_safe_loading_though_torch_load_runs_it(tmp_path):
    """``torch.load`` with this package's pickle module hands a TorchScript archive to ``torch.jit.load`` (the
    module docs say so); ``load_sinabs_model`` refuses it."""
    import torch

    from spikekit_convert import sinabs_pickle

    script = torch.jit.script(torch.nn.ReLU())
    path = tmp_path / "scripted.pt"
    torch.jit.save(script, str(path))
    with pytest.warns(UserWarning, match="TorchScript"):
        loaded = torch.load(path, pickle_module=sinabs_pickle, weights_only=False)
    assert isinstance(loaded, torch.jit.ScriptModule)  # what the docs warn about
    assert "torch.jit.load" in (sinabs_pickle.__doc__ or "")
    with pytest.raises(UnsafePickleError, match="TorchScript"):
        su.load_sinabs_model(path)


# ---------------------------------------------------------------- a view repeating a tiny storage billions of times
class _Expanded:
    def __init__(self, storage, size, stride):
        import collections

        self.args = (storage, 0, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        import torch

        return (torch._utils._rebuild_tensor_v2, self.args)


def test_a_view_repeating_one_element_into_gigabytes_is_refused():
    """One stored float stood for a (32768, 65536) weight (8 GiB the first time a layer computes with it)."""
    import pickle

    import torch

    storage = torch.ones(1).untyped_storage()
    typed = torch.storage.TypedStorage(wrap_storage=storage, dtype=torch.float32, _internal=True)
    data = pickle.dumps(_Expanded(typed, (1 << 15, 1 << 16), (0, 0)), protocol=2)
    with pytest.raises(UnsafePickleError, match="repeated from a smaller storage"):
        su.load_sinabs_model(io.BytesIO(data))


def test_a_legitimately_expanded_view_still_loads():
    import pickle

    import torch

    small = torch.arange(3.0).expand(4, 3)  # 12 elements over 3: within the bound
    assert torch.equal(su.load_sinabs_model(io.BytesIO(pickle.dumps(small, protocol=4))), small)


def test_one_big_tuple_used_as_a_key_again_and_again_is_refused():
    """Hashing a tuple reads all its items: one 200,000-item tuple as the key of 1,000 dicts cost 200 million reads
    from a file of 1 MB."""
    big = b"(" + b"K\x00" * 200_000 + b"tq\x01"  # MARK, 200,000 x BININT1 0, TUPLE, BINPUT 1
    data = PROTO2 + big + b"]" + b"}h\x01K\x01sa" * 1000 + b"."  # 1000 x (EMPTY_DICT, key, 1, SETITEM, APPEND)
    with pytest.raises(UnsafePickleError, match="a tuple as a key: the file makes the loader copy more"):
        su.load_sinabs_model(io.BytesIO(data))


# ------------------------------------------------------------------- a layer whose forward is what the file chose
@pytest.mark.parametrize("attribute", ["forward", "_call_impl", "_compiled_call_impl", "extra_repr"])
def test_state_hiding_a_method_of_the_layer_is_refused(attribute):
    """``{"forward": <a function of the table>}`` made ``model(x)`` call that function instead of the layer's."""
    hook = b"cspikekit_convert.hooks\nfiring_rate_hook\n"  # a function the table lets a file refer to
    text = attribute.encode()
    state = b"}(\x8c\x08training\x88\x8c" + bytes([len(text)]) + text + hook + b"u"
    data = PROTO2 + b"ctorch.nn.modules.module\nModule\n)\x81" + state + b"b."
    with pytest.raises(UnsafePickleError, match=f"setting '{attribute}' over its method"):
        su.load_sinabs_model(io.BytesIO(data))
