"""
Deployment steps, and what needs a chip
=======================================

The last steps of a sinabs program for Speck: place the chip layers on the cores, make the configuration, open the
device and send it there, stream events. The placement and the configuration's content need no chip and no SDK;
samna's configuration object, opening a device and streaming do. This page walks through the steps as a sinabs
program (``import spikekit as sinabs``), shows the clear error where samna is needed and the offline alternative
with the same call shape, then the ways a placement fails, each with sinabs's exception class.
"""

# %%
# A network to deploy
# -------------------
import html
import json
import warnings

import torch
from torch import nn

import spikekit as sinabs
import spikekit.layers as sl
from spikekit.backend.dynapcnn import DynapcnnNetwork
from spikekit.backend.dynapcnn.chip_factory import ChipFactory
from spikekit.backend.dynapcnn.exceptions import InvalidEdge, MaxDestinationsReached, UnsupportedLayerType


class Say(str):
    """A sentence built from this run's numbers; the documentation shows it as text under the cell."""

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self)}</p>"


def iaf() -> nn.Module:
    return sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0)


torch.manual_seed(0)
snn = nn.Sequential(
    nn.Conv2d(2, 8, 3, padding=1, bias=False), iaf(), sl.SumPool2d(2),
    nn.Conv2d(8, 16, 3, padding=1, bias=False), iaf(), sl.SumPool2d(2),
    nn.Flatten(), nn.Linear(16 * 4 * 4, 10, bias=False), iaf(),
)  # fmt: skip
hw_model = DynapcnnNetwork(snn, input_shape=(2, 16, 16), discretize=True, dvs_input=False)

# %%
# ``make_config`` needs samna
# ---------------------------
# sinabs's ``make_config`` returns samna's configuration object, so it needs SynSense's SDK samna. Without it the
# call stops before doing any work, with an ``ImportError`` (a ``ModuleNotFoundError`` named ``samna``) that says
# what needed samna and what works offline. The same holds for ``to(device=...)``, which opens the device.
for call in (lambda: hw_model.make_config(device="speck2fdevkit:0"), lambda: hw_model.to(device="speck2fdevkit:0")):
    try:
        call()
        print("samna is installed here: the configuration was made by samna")
    except ImportError as err:
        print(f"{type(err).__name__} (an ImportError, name={err.name!r}):\n  {str(err)[:160]}...")

# %%
# The offline alternative: the same arguments, spikekit's JSON configuration
# --------------------------------------------------------------------------
# ``make_json_config`` takes ``make_config``'s arguments (``layer2core_map``, ``device``, ``monitor_layers``,
# ``config_modifier``, the deprecated ``chip_layers_ordering``) and returns the configuration as plain data;
# ``to_json`` gives it as text (and writes it to a file given a path). ``monitor_layers=[-1]`` (the default
# ``None`` too) monitors the output layer; ``"all"`` every layer.
config = hw_model.make_json_config(device="speck2fdevkit:0", monitor_layers="all")
print("placement (layer -> core):", hw_model.layer2core_map)
for entry in config["layers"]:
    print(f"  layer {entry['index']} on core {entry['core']}: threshold {entry['threshold_high']},",
          f"monitored {entry['monitor_enable']}")  # fmt: skip
text = hw_model.to_json(device="speck2fdevkit:0")
print(f"JSON text: {len(text)} characters, sections {list(json.loads(text))}")


# A ``config_modifier`` changes the configuration before it is returned, as with samna's object in sinabs:
def lower_first_threshold(cfg: dict) -> dict:
    cfg["layers"][0]["threshold_high"] -= 1
    return cfg


modified = hw_model.make_json_config(device="speck2fdevkit:0", config_modifier=lower_first_threshold)
print("first threshold:", config["layers"][0]["threshold_high"], "->", modified["layers"][0]["threshold_high"])

# %%
# Placing the layers by hand
# --------------------------
# ``layer2core_map`` chooses the cores; its keys must be exactly the network's chip layers. sinabs's older
# ``chip_layers_ordering`` (a list of cores in layer order) is still accepted, with a deprecation warning.
by_hand = hw_model.make_json_config(layer2core_map={0: 5, 1: 2, 2: 8})
print("cores chosen by hand:", [entry["core"] for entry in by_hand["layers"]])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    hw_model.make_json_config(chip_layers_ordering=[3, 4, 0])
print("chip_layers_ordering ->", hw_model.layer2core_map, "|", caught[0].category.__name__)
try:
    hw_model.make_json_config(layer2core_map={0: 1})
except ValueError as err:
    print("ValueError:", err)

# %%
# How auto-mapping decides
# ------------------------
# Each chip layer needs kernel, neuron and bias memory (``memory_summary()``); each of the 9 cores has its own
# amount (the chip's builder's ``get_constraints()``). ``layer2core_map="auto"`` finds, by a maximum matching, a
# core for every layer where it fits, each core used once.
summary = hw_model.memory_summary()
constraints = ChipFactory("speck2fdevkit").get_config_builder().get_constraints()
print("needs per layer:", {i: (summary["kernel"][i], summary["neuron"][i]) for i in summary["kernel"]})
print("kernel / neuron memory per core:", [(c.kernel_memory, c.neuron_memory) for c in constraints])


# %%
# When no placement exists
# ------------------------
# A layer bigger than every core, or more chip layers than cores, leaves no placement: ``ValueError`` starting
# with "No valid mapping found", as in sinabs. ``is_compatible_with`` asks the same question without raising.
def describe(make, label: str) -> str:
    try:
        make()
    except (ValueError, UnsupportedLayerType, InvalidEdge, MaxDestinationsReached) as err:
        line = str(err).splitlines()[0]
        print(f"{label}: {type(err).__name__}: {line[:150]}")
        return type(err).__name__
    print(f"{label}: accepted")
    return "accepted"


too_big = DynapcnnNetwork(
    nn.Sequential(nn.Conv2d(2, 128, 3), iaf(), nn.Conv2d(128, 128, 3), iaf()), input_shape=(2, 16, 16)
)
print("kernel memory the second layer needs:", too_big.memory_summary()["kernel"][1])
print("compatible with speck2fdevkit:", too_big.is_compatible_with("speck2fdevkit"))
outcome_big = describe(lambda: too_big.make_json_config(), "a layer bigger than any core")
ten_layers = DynapcnnNetwork(
    nn.Sequential(*[m for _ in range(10) for m in (nn.Conv2d(2, 2, 1), iaf())]), input_shape=(2, 4, 4)
)
outcome_ten = describe(lambda: ten_layers.make_json_config(), "ten chip layers for nine cores")


# %%
# Models the chip cannot run
# --------------------------
# These are refused when the ``DynapcnnNetwork`` is made, each with sinabs's exception class
# (``spikekit.backend.dynapcnn.exceptions``) and a message naming the layer.
class ThreeWays(nn.Module):
    """One layer sending its spikes to three layers: a core has two destinations."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.iaf = nn.Conv2d(2, 2, 3, padding=1), iaf()
        self.branches = nn.ModuleList(nn.Sequential(nn.Conv2d(2, 2, 1), iaf()) for _ in range(3))
        self.merge_a, self.merge_b = sl.Merge(), sl.Merge()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.iaf(self.conv(x))
        outs = [branch(a) for branch in self.branches]
        return self.merge_b(self.merge_a(outs[0], outs[1]), outs[2])


outcomes = {
    "a ReLU left in (not converted)": describe(
        lambda: DynapcnnNetwork(nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU()), input_shape=(2, 8, 8)), "ReLU"
    ),
    "max pooling": describe(
        lambda: DynapcnnNetwork(nn.Sequential(nn.Conv2d(2, 4, 3), iaf(), nn.MaxPool2d(2)), input_shape=(2, 8, 8)),
        "MaxPool2d",
    ),
    "two convolutions in a row": describe(
        lambda: DynapcnnNetwork(nn.Sequential(nn.Conv2d(2, 4, 3), nn.Conv2d(4, 4, 3), iaf()), input_shape=(2, 8, 8)),
        "conv -> conv",
    ),
    "three destinations": describe(
        lambda: DynapcnnNetwork(ThreeWays(), input_shape=(2, 8, 8)).make_json_config(), "three destinations"
    ),
    "pooling by 3": describe(
        lambda: DynapcnnNetwork(
            nn.Sequential(nn.Conv2d(2, 4, 3), iaf(), sl.SumPool2d(3)), input_shape=(2, 11, 11)
        ).make_json_config(),
        "SumPool2d(3)",
    ),
}

Say(
    f"Offline, the three chip layers of the network above went to cores {sorted(hw_model.layer2core_map.values())} "
    f"when placed automatically. A layer that needs {too_big.memory_summary()['kernel'][1]:.0f} kernel memory entries "
    f"(the largest core has {max(c.kernel_memory for c in constraints)}) gives {outcome_big}, and so do ten chip "
    f"layers ({outcome_ten}). The refused models raise: "
    + "; ".join(f"{what}: {name}" for what, name in outcomes.items())
    + "."
)

# %%
# On a machine with a chip
# ------------------------
# With samna installed and a device connected, the rest is sinabs's code unchanged (not run here)::
#
#     hw_model.to(device="speck2fdevkit:0", monitor_layers=[-1])   # makes the config, opens the device
#     factory = ChipFactory("speck2fdevkit:0")
#     events_in = factory.raster_to_events(raster, layer=hw_model.layer2core_map[0])
#     events_out = hw_model(events_in)                               # samna's events back from the chip
#     hw_model.reset_states()                                        # resets the neurons on the chip
#
# Without a chip, the JSON configuration runs on spikekit's integer simulator, and the specksim page shows sinabs's
# specksim program running on it.
print("sinabs-style import:", sinabs.__name__, "| devices:", list(ChipFactory.supported_devices))
