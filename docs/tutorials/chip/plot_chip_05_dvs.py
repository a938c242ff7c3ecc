"""
With and without the DVS layer
==============================

Speck has an event camera (the DVS) in front of its cores. Its events pass through a small pre-processing stage,
the *DVS layer*, before they reach the first core: it can merge the two polarities, sum-pool, crop a region and
flip or swap the axes, all without using a core. sinabs models it with ``DVSLayer``; this page builds networks with
and without one, as sinabs's "playing with the DVS" and "network without a DVS layer" tutorials do, on a synthetic
event stream made below (a bar sweeping across a 32 x 32 sensor). It is written as a sinabs program
(``import spikekit.layers as sl``, ``spikekit.backend.dynapcnn``).
"""

# %%
# A synthetic event stream
# ------------------------
# An event camera reports brightness changes: a bright bar moving to the right makes ON events (polarity 1) at its
# leading edge and OFF events (polarity 0) at its trailing edge. We make them as a ``(T, 2, 32, 32)`` raster of
# event counts, one 1 ms bin per step, with a little background noise.
import html

import matplotlib.pyplot as plt
import torch
from torch import nn

import spikekit.layers as sl
from spikekit.backend.dynapcnn import DVSLayer, DynapcnnNetwork
from spikekit.backend.dynapcnn.crop2d import Crop2d
from spikekit.backend.dynapcnn.flipdims import FlipDims


class Say(str):
    """A sentence built from this run's numbers; the documentation shows it as text under the cell."""

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self)}</p>"


def moving_bar(steps: int = 30, size: int = 32, width: int = 3, seed: int = 0) -> torch.Tensor:
    """Events of a vertical bar moving one pixel per step to the right, plus sparse noise."""
    generator = torch.Generator().manual_seed(seed)
    events = torch.zeros(steps, 2, size, size)
    for t in range(steps):
        lead, trail = t % size, (t - width) % size
        events[t, 1, :, lead] = 1.0  # ON: the bar arrives
        events[t, 0, :, trail] = 1.0  # OFF: the bar leaves
    noise = torch.rand(events.shape, generator=generator) < 0.01
    return events + noise.float()


torch.manual_seed(0)
events = moving_bar()
T = events.shape[0]
print("events:", int(events.sum()), "in", tuple(events.shape))

fig, axes = plt.subplots(1, 2, figsize=(6, 3))
for p, ax in enumerate(axes):
    ax.imshow(events[:, p].sum(0), cmap="viridis")
    ax.set_title(("OFF", "ON")[p] + " events over 30 ms")
fig.tight_layout()

# %%
# A DVS layer made from layers: pooling, cropping, flipping
# ---------------------------------------------------------
# ``DVSLayer.from_layers`` builds the DVS layer from the pooling, cropping and flipping layers a model would apply to
# the camera's input; the input shape ``(2, 32, 32)`` keeps both polarities (``(1, ...)`` would merge them). Placed
# first in the model, it is taken over by ``DynapcnnNetwork`` and runs on the chip's DVS stage, not on a core.
dvs = DVSLayer.from_layers(
    input_shape=(2, 32, 32),
    pool_layer=sl.SumPool2d(2),  # 32 x 32 -> 16 x 16
    crop_layer=Crop2d(((2, 14), (2, 14))),  # keep rows and columns 2..13 of the pooled frame: 12 x 12
    flip_layer=FlipDims(flip_x=True),  # mirror left and right (a camera mounted the other way round)
)
print(dvs)
print("output shape of the DVS layer:", dvs.get_output_shape())


def make_body(side: int, seed: int = 0) -> list[nn.Module]:
    """Two conv + IAF + pooling chip layers and a linear output layer, for a ``side x side`` input."""
    torch.manual_seed(seed)
    layers = [
        nn.Conv2d(2, 4, 3, padding=1, bias=False), sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0), sl.SumPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1, bias=False), sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0), sl.SumPool2d(2),
        nn.Flatten(), nn.Linear(8 * (side // 4) ** 2, 2, bias=False), sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
    ]  # fmt: skip
    with torch.no_grad():
        for layer in layers:
            if isinstance(layer, nn.Conv2d | nn.Linear):
                layer.weight.uniform_(-0.05, 0.1)  # mostly excitatory, so that spikes get through
    return layers


snn_with_dvs = nn.Sequential(dvs, *make_body(12))
net_dvs = DynapcnnNetwork(snn_with_dvs, input_shape=(2, 32, 32), discretize=True, dvs_input=True)
print(
    "has a DVS layer:", net_dvs.has_dvs_layer(), "| pooling", net_dvs.dvs_layer.pool, "| crop", net_dvs.dvs_layer.crop
)
print("chip layers:", list(net_dvs.dynapcnn_layers))

# %%
# The DVS layer computes what the layers it replaces compute: the same events through pooling, cropping and
# flipping in plain torch give the same input to the first core.
with torch.no_grad():
    by_dvs_layer = net_dvs.dvs_layer(events)
    by_hand = torch.nn.functional.avg_pool2d(events, 2) * 4  # sum pooling
    by_hand = by_hand[:, :, 2:14, 2:14].flip(-1)
print("DVS layer == pool, crop, flip by hand:", torch.equal(by_dvs_layer, by_hand))

with torch.no_grad():
    net_dvs.reset_states()
    out_dvs = net_dvs(events).flatten(1)
print("output spikes per neuron:", out_dvs.sum(0).tolist())

# %%
# The configuration holds the DVS stage: its pooling, its crop, its flips and where its events go.
config = net_dvs.make_json_config(device="speck2fdevkit")
print(config["dvs"])

# %%
# A pooling layer before the first convolution
# --------------------------------------------
# A model written for DVS input often starts with a pooling layer and no DVS layer. On the chip a core cannot pool
# its input, so with ``dvs_input=True`` the DVS layer that ``DynapcnnNetwork`` adds takes that pooling over.
snn_pool_first = nn.Sequential(sl.SumPool2d(2), *make_body(16, seed=1))
net_pool_first = DynapcnnNetwork(snn_pool_first, input_shape=(2, 32, 32), discretize=True, dvs_input=True)
print("added DVS layer:", net_pool_first.dvs_layer)
print("its pooling:", net_pool_first.dvs_layer.pool, "| chip layers:", list(net_pool_first.dynapcnn_layers))
with torch.no_grad():
    net_pool_first.reset_states()
    out_pool_first = net_pool_first(events).flatten(1)

# %%
# Without a DVS layer
# -------------------
# A network whose input comes from the host (a recorded data set, another sensor) needs no DVS layer: with
# ``dvs_input=False`` (and no ``DVSLayer`` in the model) the input events go straight to the first core. The
# first layer must then be a weight layer. Here the host pools the events to 16 x 16 and the network is the one
# above without its pooling layer (same weights): its outputs are the same, the pooling just ran elsewhere.
snn_no_dvs = nn.Sequential(*make_body(16, seed=1))
net_no_dvs = DynapcnnNetwork(snn_no_dvs, input_shape=(2, 16, 16), discretize=True, dvs_input=False)
print("has a DVS layer:", net_no_dvs.has_dvs_layer())
host_input = torch.nn.functional.avg_pool2d(events, 2) * 4
with torch.no_grad():
    net_no_dvs.reset_states()
    out_no_dvs = net_no_dvs(host_input).flatten(1)
config_no_dvs = net_no_dvs.make_json_config(device="speck2fdevkit")
print("input layers:", config_no_dvs["input_layers"], "| DVS section:", config_no_dvs["dvs"])
same_as_pool_first = torch.equal(out_no_dvs, out_pool_first)
print("same outputs as the network whose DVS layer pools:", same_as_pool_first)

Say(
    f"The network with a DVS layer uses {len(net_dvs.dynapcnn_layers)} cores for its {len(net_dvs.dynapcnn_layers)} "
    f"chip layers: pooling by {net_dvs.dvs_layer.pool}, the {net_dvs.dvs_layer.crop} crop and the flip run in the "
    f"DVS stage. Its two output neurons fire {int(out_dvs[:, 0].sum())} and {int(out_dvs[:, 1].sum())} times over "
    f"the {T} steps. The model that starts with a pooling layer gets a DVS layer pooling by "
    f"{net_pool_first.dvs_layer.pool}; the same network without a DVS layer, fed the events pooled by the host, "
    f"{'gives the same' if same_as_pool_first else 'does NOT give the same'} output spikes "
    f"({int(out_no_dvs.sum())} in all)."
)
