"""
Events, rasters and device names without a chip
===============================================

A chip takes and gives *events*: one spike of one neuron at one time. sinabs's ``ChipFactory`` turns spike rasters
into events and back, and ``sinabs.backend.dynapcnn.io`` handles device names and event records. spikekit-speck
serves both as ``spikekit.backend.dynapcnn.chip_factory`` and ``.io`` (so the sinabs program runs after
``import spikekit as sinabs``), and they work without samna: the events are then spikekit's ``Spike`` records with
samna's fields. Only opening a device needs samna.
"""

# %%
# A digit as a spike raster
# -------------------------
# Rate coding: at each 1 ms step each pixel fires with a probability equal to its intensity.
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits

from spikekit.backend.dynapcnn import io
from spikekit.backend.dynapcnn.chip_factory import ChipFactory

torch.manual_seed(0)
digits = load_digits()
image = torch.tensor(digits.images[0], dtype=torch.float32) / 16.0  # a "0", 8 x 8
T = 20
raster = (torch.rand(T, 1, 8, 8) < image).float()  # (Time, Channel, Height, Width) spike counts
print("spikes in the raster:", int(raster.sum()))

# %%
# Raster -> events -> raster
# --------------------------
# ``raster_to_events`` addresses every spike to a core (``layer``) and stamps it in microseconds (``dt`` is the bin
# length in seconds, ``delay_factor`` a start time in seconds).
factory = ChipFactory("speck2fdevkit")
print("supported devices:", list(ChipFactory.supported_devices))
events = factory.raster_to_events(raster, layer=0, dt=1e-3, delay_factor=0.01)
print(len(events), "events; the first three:")
for event in events[:3]:
    print("  ", event)

# Back to a raster: the first event's time is time 0, so the bins are those of the raster.
back = factory.events_to_raster(events, dt=1e-3, shape=(1, 8, 8))
print("round trip exact:", torch.equal(back, raster[: len(back)]) and int(back.sum()) == int(raster.sum()))

# A coarser bin (5 ms) adds up 5 steps per bin:
coarse = factory.events_to_raster(events, dt=5e-3, shape=(1, 8, 8))
print("5 ms bins:", tuple(coarse.shape), "total spikes", int(coarse.sum()))

fig, axes = plt.subplots(1, 3, figsize=(8, 2.8))
axes[0].imshow(image, cmap="gray")
axes[0].set_title("digit")
axes[1].imshow(raster.sum(0)[0], cmap="viridis")
axes[1].set_title(f"spike counts over {T} ms")
times = np.array([e.timestamp for e in events]) / 1000
axes[2].scatter(times, [e.y * 8 + e.x for e in events], s=2)
axes[2].set(title="events", xlabel="time (ms)", ylabel="pixel")
fig.tight_layout()

# %%
# Events from a structured array (x, y, t, p)
# -------------------------------------------
# Event cameras and libraries such as tonic or aermanager give records with fields x, y, t (us) and p (polarity).
records = np.zeros(4, dtype=[("x", np.uint16), ("y", np.uint16), ("t", np.uint64), ("p", np.uint8)])
records["x"], records["y"], records["t"], records["p"] = (
    [3, 4, 3, 7],
    [1, 1, 2, 0],
    [5000, 5200, 6100, 9000],
    [1, 0, 1, 1],
)
dvs_events = factory.xytp_to_events(records, layer=13, reset_timestamps=True)
print([(e.x, e.y, e.feature, e.timestamp) for e in dvs_events])

# ``io.events_to_xytp`` goes the other way for the events of one core, as read from a chip:
print(io.events_to_xytp(events[:5], layer=0))

# %%
# Device names, and what needs samna
# ----------------------------------
print(io.parse_device_id("speck2fdevkit:1"), io.standardize_device_id("speck2edevkit"))
print("neuron (c=1, x=3, y=2) of a (2, 16, 16) map has address", io.calculate_neuron_address(3, 2, 1, (2, 16, 16)))
try:
    io.open_device("speck2fdevkit:0")
except ImportError as err:  # SamnaRequiredError, a ModuleNotFoundError; an OSError when samna finds no device
    print(type(err).__name__, ":", str(err).split(". ")[0])
except OSError as err:
    print(type(err).__name__, ":", err)
