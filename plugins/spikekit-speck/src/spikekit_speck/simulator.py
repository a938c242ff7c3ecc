"""Chip-exact simulation of a mapped network, from its configuration alone, with integer arithmetic.

Each time step ``t`` every core, in topological order, does (all values integers, 16-bit state)::

    v <- clip(v + sum_pool(conv(s_in[t], W)) + b, -2**15, 2**15 - 1)      # b added every step: the leak
    n <- spikes(v)      multi: floor(v / thr_high) if v >= thr_high else 0
                        single: 1 if v >= thr_high else 0;  max: min(multi, max_spikes)
    v <- 0 where n > 0           (return_to_zero)
         v - n * thr_high        (otherwise: subtract)
    v <- max(v, thr_low)

and sends ``n`` to its destinations through sum pooling (``p x p`` windows, remainder dropped). Inputs that reach
a core from several sources are added (zero-padded at the end to the core's input size). The DVS layer, when
present, merges polarities, sum-pools, crops and flips its input first. See ``docs/speck/semantics.md`` for the
assumptions behind each line.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from spikekit_speck.config import validate_config

__all__ = ["ChipSimulator", "neuron_update", "sum_pool_int"]

STATE_MIN, STATE_MAX = -(2**15), 2**15 - 1


def sum_pool_int(x: torch.Tensor, p: int) -> torch.Tensor:
    """Exact sum over non-overlapping ``p x p`` windows of the last two dims (remainder dropped)."""
    if p == 1:
        return x
    h, w = x.shape[-2] // p, x.shape[-1] // p
    x = x[..., : h * p, : w * p]
    return x.reshape(*x.shape[:-2], h, p, w, p).sum(dim=(-3, -1))


def _pad_to(x: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    c, h, w = x.shape[-3:]
    if (c, h, w) == shape:
        return x
    x = F.pad(x, (0, shape[2] - w, 0, shape[1] - h))
    if c < shape[0]:
        x = torch.cat([x, x.new_zeros(*x.shape[:-3], shape[0] - c, *x.shape[-2:])], dim=-3)
    return x


def neuron_update(
    v: torch.Tensor, drive: torch.Tensor, spec: dict[str, Any], saturate: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """One time step of a core's neurons (the chip's rule in the module docstring): ``(spikes, new state)``.

    Args:
        v: integer states; drive: this step's integer input with the bias added.
        spec: the layer's ``thr`` (threshold_high), ``low`` (threshold_low), ``zero`` (return_to_zero), ``mode``
            (spike mode) and ``max`` (max_spikes).
        saturate: clip the state to 16 bits before firing.
    """
    thr = spec["thr"]
    v = v + drive
    if saturate:
        v = v.clamp(STATE_MIN, STATE_MAX)
    if spec["mode"] == "single":
        n = (v >= thr).to(torch.int64)
    else:
        n = torch.where(v >= thr, torch.div(v, thr, rounding_mode="floor"), torch.zeros_like(v))
        if spec["mode"] == "max":
            n = n.clamp(max=spec["max"])
    v = torch.where(n > 0, torch.zeros_like(v), v) if spec["zero"] else v - n * thr
    return n, torch.clamp(v, min=spec["low"])


class ChipSimulator:
    """Runs a ``spikekit-speck`` configuration on CPU exactly as the chip's integer arithmetic would.

    Args:
        config: a configuration dict (see :mod:`spikekit_speck.config`).
        saturate: clip states to 16 bits (the chip's state width); False lets them grow (for comparisons).
        keep_state: carry each layer's states ``(B, C, H, W)`` (``states``) from one run to the next, as the chip
            does, until :meth:`reset_states`; False starts every run from ``neurons_initial_value``.

    Example:
        >>> sim = ChipSimulator(deployment.config)
        >>> out = sim(torch.randint(0, 2, (4, 20, 2, 64, 64)))   # (B, T, C, H, W) event counts
    """

    def __init__(self, config: dict[str, Any], saturate: bool = True, keep_state: bool = False) -> None:
        validate_config(config)
        self.config = config
        self.saturate = saturate
        self.keep_state = keep_state
        self.states: dict[int, torch.Tensor] = {}
        core_to_layer = {layer["core"]: layer["index"] for layer in config["layers"]}
        self._layers = []
        for layer in config["layers"]:
            dims = layer["dimensions"]
            weight = torch.tensor(layer["weights"], dtype=torch.float64).transpose(2, 3).contiguous()  # (o, i, y, x)
            self._layers.append(
                {
                    "weight": weight,
                    "bias": torch.tensor(layer["biases"], dtype=torch.int64),
                    "stride": (dims["stride"]["y"], dims["stride"]["x"]),
                    "padding": (dims["padding"]["y"], dims["padding"]["x"]),
                    "in_shape": (
                        dims["input_shape"]["feature_count"],
                        dims["input_shape"]["size"]["y"],
                        dims["input_shape"]["size"]["x"],
                    ),
                    "thr": int(layer["threshold_high"]),
                    "low": int(layer["threshold_low"]),
                    "zero": bool(layer["return_to_zero"]),
                    "mode": layer["spike_mode"],
                    "max": layer.get("max_spikes"),
                    "init": torch.tensor(layer["neurons_initial_value"], dtype=torch.int64).transpose(1, 2),
                    "dests": [(core_to_layer[d["layer"]], int(d["pooling"])) for d in layer["destinations"]],
                    "outputs": [int(o["pooling"]) for o in layer["outputs"]],
                }
            )
        self.input_shape = tuple(config["input_shape"])
        self.dvs = config["dvs"]
        self.dvs_targets = [] if self.dvs is None else [core_to_layer[c] for c in self.dvs["destinations"]]

    # ------------------------------------------------------------------------------------------------ pieces
    def _dvs(self, x: torch.Tensor) -> torch.Tensor:
        d = self.dvs
        assert d is not None
        if d["merge"] and x.shape[-3] != 1:
            x = x.sum(-3, keepdim=True)
        py, px = d["pooling"]["y"], d["pooling"]["x"]
        if (py, px) != (1, 1):
            h, w = x.shape[-2] // py, x.shape[-1] // px
            x = x[..., : h * py, : w * px].reshape(*x.shape[:-2], h, py, w, px).sum(dim=(-3, -1))
        x = x[..., d["origin"]["y"] : d["cut"]["y"] + 1, d["origin"]["x"] : d["cut"]["x"] + 1]
        if d["mirror"]["y"]:
            x = x.flip(-2)
        if d["mirror"]["x"]:
            x = x.flip(-1)
        if d["mirror_diagonal"]:
            x = x.transpose(-2, -1)
        return x

    def _run_layer(self, index: int, spec: dict[str, Any], s_in: torch.Tensor) -> torch.Tensor:
        b, t = s_in.shape[:2]
        flat = s_in.reshape(b * t, *s_in.shape[2:]).to(torch.float64)  # (B*T, C, H, W)
        drive = F.conv2d(flat, spec["weight"], stride=spec["stride"], padding=spec["padding"])
        drive = torch.round(drive).to(torch.int64).reshape(b, t, *drive.shape[1:])  # (B, T, C', H', W')
        bias = spec["bias"].view(-1, 1, 1)
        v = self._start_state(index, spec, b, drive.shape[2:])
        out = torch.empty_like(drive)
        for step in range(t):
            out[:, step], v = neuron_update(v, drive[:, step] + bias, spec, self.saturate)
        if self.keep_state:
            self.states[index] = v
        return out

    def _start_state(self, index: int, spec: dict[str, Any], batch: int, shape: torch.Size) -> torch.Tensor:
        kept = self.states.get(index) if self.keep_state else None
        if kept is None:
            return spec["init"].expand(batch, *shape).clone()
        if kept.shape[0] != batch:
            raise ValueError(
                f"the simulator keeps the states of a batch of {kept.shape[0]}, but got a batch of {batch}; "
                "call reset_states() first"
            )
        return kept

    def reset_states(self) -> None:
        """Forget the kept states: the next run starts from each layer's ``neurons_initial_value``."""
        self.states = {}

    # ------------------------------------------------------------------------------------------------ running
    def run(self, x: torch.Tensor) -> dict[int, list[torch.Tensor]]:
        """Every layer's network outputs: ``{layer index: [tensor (B, T, C, H, W) per output]}``; also keeps
        each layer's raw spikes in ``self.layer_spikes``."""
        if x.ndim == 4:
            x = x.unsqueeze(0)  # (1, T, C, H, W)
        if x.ndim != 5:
            raise ValueError(
                f"the Speck simulator expects input of shape (batch, time, channels, height, width) or "
                f"(time, channels, height, width), got shape {tuple(x.shape)}"
            )
        if x.is_floating_point():
            if (x != torch.round(x)).any() or (x < 0).any():
                raise ValueError("the Speck simulator expects non-negative integer event counts as input")
        x = x.to(torch.int64)
        expected = self.input_shape
        if tuple(x.shape[2:]) != tuple(expected):
            raise ValueError(f"the Speck simulator expects frames of shape {tuple(expected)}, got {tuple(x.shape[2:])}")
        arriving: dict[int, list[torch.Tensor]] = {i: [] for i in range(len(self._layers))}
        for i in self.config["input_layers"]:
            arriving[i].append(x)
        if self.dvs is not None:
            pre = self._dvs(x)
            for i in self.dvs_targets:
                arriving[i].append(pre)
        outputs: dict[int, list[torch.Tensor]] = {}
        self.layer_spikes: dict[int, torch.Tensor] = {}
        for i, spec in enumerate(self._layers):
            padded = [_pad_to(a, spec["in_shape"]) for a in arriving[i]]  # never empty: plan_network checks it
            s_in = padded[0]
            for more in padded[1:]:
                s_in = s_in + more
            spikes = self._run_layer(i, spec, s_in)
            self.layer_spikes[i] = spikes
            for target, p in spec["dests"]:
                arriving[target].append(sum_pool_int(spikes, p))
            if spec["outputs"]:
                outputs[i] = [sum_pool_int(spikes, p) for p in spec["outputs"]]
        return outputs

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The network's output spikes ``(B, T, C, H, W)`` as int64 (4-D input gives 4-D output)."""
        squeeze = x.ndim == 4
        outputs = self.run(x)
        flat = [o for outs in outputs.values() for o in outs]
        if len(flat) != 1:
            raise ValueError(f"the network has {len(flat)} outputs; use run(x) to get all of them")
        return flat[0][0] if squeeze else flat[0]
