"""``from_model``: convert a trained torch ANN into a spiking :class:`~spikekit_convert.network.Network`."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from spikekit.state import SqueezeMixin
from spikekit_convert.checks import check_input_shape, check_positive_finite, require_module
from spikekit_convert.conversion import replace_module
from spikekit_convert.network import Network

__all__ = ["from_model"]


class _Default:
    """Marks an argument left at its default, which is resolved through spikekit's namespaces at call time."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


_DEFAULT_THRESHOLD = _Default("tensor(1.)")
_DEFAULT_SPIKE_FN = _Default("spikekit.activation.MultiSpike")
_DEFAULT_RESET_FN = _Default("spikekit.activation.MembraneSubtract()")
_DEFAULT_SURROGATE = _Default("spikekit.activation.SingleExponential()")
_DEFAULT_LAYER = _Default("spikekit.layers.IAFSqueeze")


def _layer_class_for_backend(backend: str, kwargs_backend: dict[str, Any]) -> type:
    import spikekit.layers as layers
    from spikekit.compute import available_backends

    if backend in ("sinabs", "spikekit"):
        return layers.IAFSqueeze
    if backend == "exodus" and "fused-cpu-exodus" in available_backends():
        backend = "fused-cpu-exodus"  # sinabs-exodus's role: a fused loop with the EXODUS gradient
    if backend in available_backends():
        kwargs_backend.setdefault("backend", backend)
        return layers.IAFSqueeze
    raise ValueError(
        f"from_model: unknown backend {backend!r}; expected 'sinabs' or an installed compute backend "
        f"({', '.join(sorted(available_backends())) or 'none'}); prefer spike_layer_class=... or "
        "kwargs_backend={'backend': name}"
    )


def _optional_neuromorphic_relu() -> type | None:
    import spikekit.layers as layers
    from spikekit.errors import PluginNotInstalledError

    try:
        return layers.NeuromorphicReLU
    except (PluginNotInstalledError, AttributeError):
        return None  # without spikekit-neurons no model can contain one


def from_model(
    model: nn.Module,
    input_shape: Sequence[int] | None = None,
    spike_threshold: Any = _DEFAULT_THRESHOLD,
    spike_fn: Any = _DEFAULT_SPIKE_FN,
    reset_fn: Any = _DEFAULT_RESET_FN,
    surrogate_grad_fn: Any = _DEFAULT_SURROGATE,
    min_v_mem: float | None = -1.0,
    bias_rescaling: float = 1.0,
    batch_size: int | None = None,
    num_timesteps: int | None = None,
    synops: bool = False,
    add_spiking_output: bool = False,
    spike_layer_class: Any = _DEFAULT_LAYER,
    backend: str | None = None,
    kwargs_backend: dict[str, Any] | None = None,
) -> Network:
    """Convert a torch model into a spiking :class:`Network`: every ReLU becomes a spiking layer.

    A deep copy of ``model`` is made in which every module of exact type ``nn.ReLU`` or
    ``spikekit.layers.NeuromorphicReLU`` is replaced by
    ``spike_layer_class(spike_threshold=..., spike_fn=..., reset_fn=..., surrogate_grad_fn=..., min_v_mem=...,
    **kwargs)``. A ReLU's output ``max(0, a)`` becomes, for an integrate-and-fire neuron with threshold θ, a spike
    count whose rate over T steps approaches ``a / θ`` (for ``0 <= a <= θ`` per step), so weights scaled with
    :func:`spikekit.utils.normalize_weights` keep the ANN's function.

    Args:
        model: the ANN (not changed; it becomes ``network.analog_model``).
        input_shape: one sample's shape (e.g. ``(C, H, W)``); if given, a probe forward pass records
            ``out_shape`` on every module and initialises the neuron states.
        spike_threshold: threshold of every spiking layer (default ``tensor(1.)``, a fresh tensor per layer).
        spike_fn: spike function (default ``spikekit.activation.MultiSpike``).
        reset_fn: reset function (default ``spikekit.activation.MembraneSubtract()``).
        surrogate_grad_fn: surrogate gradient (default ``spikekit.activation.SingleExponential()``).
        min_v_mem: lower bound of the membrane potential (default ``-1.0``).
        bias_rescaling: biases of every ``Linear`` / ``Conv2d`` are divided by this.
        batch_size: passed to Squeeze layer classes (with ``num_timesteps``, at least one is needed).
        num_timesteps: passed to Squeeze layer classes.
        synops: attach an ``SNNAnalyzer`` to the network (see ``Network.get_synops``).
        add_spiking_output: append a spiking layer named ``"spike_output"`` unless the model's last child is
            already a ReLU (then warn).
        spike_layer_class: the class that replaces ReLUs (default ``spikekit.layers.IAFSqueeze``); any class
            accepting the keyword arguments above works, e.g. a third-party plugin's layer. Squeeze classes
            (subclasses of ``spikekit.layers.SqueezeMixin``) also get ``batch_size`` and ``num_timesteps``.
        backend: deprecated: ``"sinabs"`` means ``IAFSqueeze``; the name of an installed compute backend means
            ``IAFSqueeze(backend=name)``; ``"exodus"`` means ``IAFSqueeze(backend="fused-cpu-exodus")`` when
            spikekit-kernels is installed.
        kwargs_backend: extra keyword arguments for every created layer.

    Returns:
        ``Network(model, snn, input_shape, synops, batch_size, num_timesteps)``.

    Example:
        >>> ann = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(288, 10))
        >>> net = from_model(ann, input_shape=(1, 8, 8), batch_size=16, add_spiking_output=True)
        >>> counts = net(x.repeat_interleave(20, 0)).unflatten(0, (16, 20)).sum(1)  # x: (16, 1, 8, 8)
    """
    require_module("from_model", "model", model)
    check_input_shape("from_model", input_shape)
    check_positive_finite("from_model", "bias_rescaling", bias_rescaling)
    layer_kwargs = dict(kwargs_backend) if kwargs_backend is not None else {}
    if backend is not None:
        warnings.warn(
            "The 'backend' argument is deprecated and will be removed in a future release, please use "
            "spike_layer_class instead.",
            UserWarning,
            stacklevel=2,
        )
        spike_layer_class = _layer_class_for_backend(backend, layer_kwargs)
    factory = _SpikingLayerFactory.resolve(
        spike_layer_class, spike_threshold, spike_fn, reset_fn, surrogate_grad_fn, min_v_mem, layer_kwargs
    )
    factory.device = _device_of(model)  # the spiking layers join the model's device
    if issubclass(factory.layer_class, SqueezeMixin):
        factory.layer_kwargs["batch_size"] = batch_size
        factory.layer_kwargs["num_timesteps"] = num_timesteps

    snn = _replace_relus(model, factory)
    if add_spiking_output:
        _add_spiking_output(model, snn, factory)
    if bias_rescaling != 1.0:
        _rescale_biases(snn, bias_rescaling)
    return Network(
        model, snn, input_shape=input_shape, synops=synops, batch_size=batch_size, num_timesteps=num_timesteps
    )


@dataclasses.dataclass
class _SpikingLayerFactory:
    """Makes the spiking layers that replace ReLUs, every one from the same arguments."""

    layer_class: type
    spike_threshold: Any
    spike_fn: Any
    reset_fn: Any
    surrogate_grad_fn: Any
    min_v_mem: float | None
    layer_kwargs: dict[str, Any]
    device: torch.device = dataclasses.field(default_factory=lambda: torch.device("cpu"))

    @classmethod
    def resolve(
        cls,
        layer_class: Any,
        spike_threshold: Any,
        spike_fn: Any,
        reset_fn: Any,
        surrogate_grad_fn: Any,
        min_v_mem: float | None,
        layer_kwargs: dict[str, Any],
    ) -> _SpikingLayerFactory:
        """The factory with every argument left at its default resolved through spikekit's namespaces."""
        import spikekit.activation as activation
        import spikekit.layers as layers

        if layer_class is _DEFAULT_LAYER:
            layer_class = layers.IAFSqueeze
        if spike_fn is _DEFAULT_SPIKE_FN:
            spike_fn = activation.MultiSpike
        if reset_fn is _DEFAULT_RESET_FN:
            reset_fn = activation.MembraneSubtract()
        if surrogate_grad_fn is _DEFAULT_SURROGATE:
            surrogate_grad_fn = activation.SingleExponential()
        if not isinstance(layer_class, type):
            raise TypeError(f"from_model: spike_layer_class must be a class, got {layer_class!r}")
        return cls(layer_class, spike_threshold, spike_fn, reset_fn, surrogate_grad_fn, min_v_mem, layer_kwargs)

    def threshold(self) -> Any:
        """A fresh threshold per layer: sinabs shares one storage between all converted layers (and its default)."""
        if self.spike_threshold is _DEFAULT_THRESHOLD:
            return torch.tensor(1.0)
        if isinstance(self.spike_threshold, torch.Tensor):
            return self.spike_threshold.clone()
        return self.spike_threshold

    def __call__(self, _: nn.Module | None = None) -> nn.Module:
        layer = self.layer_class(
            spike_threshold=self.threshold(),
            spike_fn=self.spike_fn,
            reset_fn=self.reset_fn,
            surrogate_grad_fn=self.surrogate_grad_fn,
            min_v_mem=self.min_v_mem,
            **self.layer_kwargs,
        )
        return layer.to(self.device)


def _device_of(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def _relu_classes() -> tuple[type, ...]:
    """``nn.ReLU``, and ``spikekit.layers.NeuromorphicReLU`` where a plugin provides it."""
    neuromorphic_relu = _optional_neuromorphic_relu()
    return (nn.ReLU,) if neuromorphic_relu is None else (nn.ReLU, neuromorphic_relu)


def _replace_relus(model: nn.Module, factory: _SpikingLayerFactory) -> nn.Module:
    """A deep copy of ``model`` with every module of exact type ``nn.ReLU`` / ``NeuromorphicReLU`` made spiking."""
    snn = model
    for relu_class in _relu_classes():
        snn = replace_module(snn, relu_class, factory)
    return snn


def _add_spiking_output(model: nn.Module, snn: nn.Module, factory: _SpikingLayerFactory) -> None:
    """Append a spiking layer ``"spike_output"`` unless the model's last child is a ReLU (then warn)."""
    children = list(model.children())
    if children and not isinstance(children[-1], _relu_classes()):
        snn.add_module("spike_output", factory())
    else:
        warnings.warn(
            "Spiking output can only be added to sequential models that do not end in a ReLU. No layer has been added.",
            UserWarning,
            stacklevel=3,
        )


def _rescale_biases(snn: nn.Module, bias_rescaling: float) -> None:
    """Divide the bias of every ``Linear`` / ``Conv2d`` by ``bias_rescaling``."""
    with torch.no_grad():
        for module in snn.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)) and module.bias is not None:
                module.bias.data /= bias_rescaling
