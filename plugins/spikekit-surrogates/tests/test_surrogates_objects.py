"""The surrogates as objects: registry access, dtypes and devices, value semantics, bad input, user callables."""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys

import pytest
import torch

import spikekit.activation
import spikekit_surrogates as sks
from spikekit.protocols import SurrogateGradient, SurrogateSpikeFunction
from spikekit_surrogates import check_surrogate
from spikekit_surrogates.plugin import SURROGATES

NAMES = [name for name, _, _ in SURROGATES]


class _Spike(SurrogateSpikeFunction):
    @staticmethod
    def spike_rule(v_mem, spike_threshold):
        return (v_mem >= spike_threshold).to(v_mem.dtype)


@pytest.mark.parametrize("name", NAMES)
def test_reachable_through_spikekit_activation(name):
    assert getattr(spikekit.activation, name) is getattr(sks, name)
    assert name in dir(spikekit.activation)
    surrogate = getattr(sks, name)()
    assert isinstance(surrogate, SurrogateGradient)
    v = torch.linspace(-2.0, 3.0, 11)
    grad = surrogate(v, torch.tensor(1.0))  # elementwise and finite, with a non-zero gradient at the threshold
    assert grad.shape == v.shape and torch.isfinite(grad).all() and grad[6] != 0


def test_superspike_is_the_fast_sigmoid():
    assert spikekit.activation.SuperSpike is sks.FastSigmoid
    assert sks.SuperSpike(slope=100.0) == sks.FastSigmoid(slope=100.0)


def test_plugin_module_imports_nothing_heavy():
    code = (
        "import sys, spikekit_surrogates.plugin as p; "
        "assert 'spikekit_surrogates.sinabs_family' not in sys.modules; "
        "assert 'spikekit_surrogates.peer_family' not in sys.modules; "
        "print(len(p.spikekit_exports()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(len(SURROGATES) + 1)  # and the module surrogate_gradient_fn


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_output_follows_the_input_dtype(name, dtype):
    sg = getattr(sks, name)()
    v = torch.linspace(-1, 3, 17, dtype=dtype)
    out = sg(v, torch.tensor(1.0, dtype=dtype))
    assert out.dtype == dtype and out.shape == v.shape
    assert torch.isfinite(out).all()
    ref = sg(v.double(), torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(out.double(), ref, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("name", NAMES)
def test_python_float_threshold(name):
    sg = getattr(sks, name)()
    v = torch.linspace(-1, 3, 9)
    torch.testing.assert_close(sg(v, 1.0), sg(v, torch.tensor(1.0)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("name", NAMES)
def test_runs_on_cuda(name):
    sg = getattr(sks, name)()
    v = torch.linspace(-1, 3, 17)
    thr = torch.full((17,), 1.0)
    out = sg(v.cuda(), thr.cuda())
    assert out.is_cuda
    torch.testing.assert_close(out.cpu(), sg(v, thr))


@pytest.mark.parametrize("name", NAMES)
def test_value_semantics(name):
    cls = getattr(sks, name)
    sg = cls()
    field = next(iter(sg.__dataclass_fields__))
    other = dataclasses.replace(sg, **{field: getattr(sg, field) + 0.25})
    assert other != sg and cls() == sg
    assert f"{field}=" in repr(sg)
    assert pickle.loads(pickle.dumps(other)) == other


@pytest.mark.parametrize(
    "factory, message",
    [
        (lambda: sks.Gaussian(sigma=0.0), "Gaussian: sigma must be > 0"),
        (lambda: sks.MultiGaussian(s=-1), "MultiGaussian: s must be > 0"),
        (lambda: sks.SingleExponential(grad_width=0), "SingleExponential: grad_width must be > 0"),
        (lambda: sks.PeriodicExponential(grad_width=-0.5), "PeriodicExponential: grad_width must be > 0"),
        (lambda: sks.FastSigmoid(slope=0), "FastSigmoid: slope must be > 0"),
        (lambda: sks.Triangle(width=-1.0), "Triangle: width must be > 0"),
        (lambda: sks.Rectangular(width=0.0), "Rectangular: width must be > 0"),
        (lambda: sks.Erf(alpha=-2.0), "Erf: alpha must be > 0"),
        (lambda: sks.PiecewiseLinear(width=0.0), "PiecewiseLinear: width must be > 0"),
    ],
)
def test_bad_parameters_are_rejected_by_name(factory, message):
    with pytest.raises(ValueError, match=message):
        factory()


def test_non_numeric_parameter_is_a_type_error():
    with pytest.raises(TypeError, match="ATan: alpha must be a real number, got str"):
        sks.ATan(alpha="2")
    with pytest.raises(TypeError, match="Heaviside: window must be a real number"):
        sks.Heaviside(window=None)


def test_tensor_parameters_are_accepted():
    sg = sks.SingleExponential(grad_width=torch.tensor(0.5))
    torch.testing.assert_close(sg(torch.tensor([1.0]), torch.tensor(1.0)), torch.tensor([2.0]))


def test_heaviside_window_is_absolute():
    # sinabs documents the window as relative to the threshold; its code (and ours) use it as an absolute offset
    sg = sks.Heaviside(window=0.5)
    thr = torch.tensor(2.0)
    out = sg(torch.tensor([1.49, 1.5, 1.0]), thr)
    torch.testing.assert_close(out, torch.tensor([0.0, 0.5, 0.0]))


def test_heaviside_keeps_float64():
    # sinabs returns float32 here (it casts the mask with .float()); values are identical, only the dtype differs
    out = sks.Heaviside()(torch.tensor([0.5, -0.5], dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64))
    assert out.dtype == torch.float64


# ----------------------------------------------------------------------------------------- user callables
def test_a_plain_function_drives_a_spike_function():
    def boxcar(v_mem, spike_threshold):
        return ((v_mem - spike_threshold).abs() < 0.5).to(v_mem.dtype)

    assert isinstance(boxcar, SurrogateGradient)
    assert check_surrogate(boxcar) is boxcar
    v = torch.tensor([0.2, 0.8, 1.3, 2.0], requires_grad=True)
    _Spike.apply(v, torch.tensor(1.0), boxcar).sum().backward()
    torch.testing.assert_close(v.grad, torch.tensor([0.0, 1.0, 1.0, 0.0]))


def test_check_surrogate_accepts_every_surrogate_here():
    for name in NAMES:
        check_surrogate(getattr(sks, name)())


@pytest.mark.parametrize(
    "candidate, error, message",
    [
        (42, TypeError, "LIF.surrogate_grad_fn must be a callable"),
        (lambda v: v, TypeError, "must accept \\(v_mem, spike_threshold\\)"),
        (lambda v, t: 1.0, TypeError, "must return a tensor"),
        (lambda v, t: v.sum(), ValueError, "shaped like v_mem \\(2, 3\\)"),
        (lambda v, t: v.float(), ValueError, "must return v_mem's dtype torch.float64"),
        (lambda v, t: torch.log(v - t), ValueError, "non-finite"),
    ],
)
def test_check_surrogate_explains_what_is_wrong(candidate, error, message):
    with pytest.raises(error, match=message):
        check_surrogate(candidate, owner="LIF.surrogate_grad_fn")
