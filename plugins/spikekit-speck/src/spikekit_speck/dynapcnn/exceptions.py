"""The exception classes of ``sinabs.backend.dynapcnn.exceptions`` (same names, bases and constructor arguments).

Every refusal of the chip modules raises one of these (or, where sinabs raises a builtin, that builtin), with a
message that names the layer or node concerned.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "MissingLayer",
    "UnexpectedLayer",
    "InputConfigurationError",
    "WrongModuleCount",
    "WrongPoolingModule",
    "UnsupportedLayerType",
    "InvalidModel",
    "InvalidTorchModel",
    "InvalidGraphStructure",
    "InvalidModelWithDVSSetup",
    "InvalidEdge",
    "UnknownNode",
    "MaxDestinationsReached",
    "InvalidLayerLoop",
    "InvalidLayerDestination",
    "default_invalid_structure_string",
]

default_invalid_structure_string = (
    "Invalid structure found. This is most likely due to an unsupported SNN architecture. In general, a DynapCNN "
    "network should consist of groups of a weight layer (conv or linear), a spiking layer (IAFSqueeze), and "
    "optionally a pooling layer."
)


class MissingLayer(Exception):
    """A spiking layer is missing at a position of the model."""

    def __init__(self, index: int) -> None:
        self.index = index
        super().__init__(f"A spiking layer is expected at index {index}")


class UnexpectedLayer(Exception):
    """A layer of another type than expected."""

    def __init__(self, expected: Any, found: Any) -> None:
        self.layer_type_expected, self.layer_type_found = expected, found
        super().__init__(f"Expected {expected} but found {found}")


class InputConfigurationError(Exception):
    """The input of the network is not configured correctly (input shape, DVS input)."""


class WrongModuleCount(Exception):
    """A DynapcnnLayer is given another number of modules than 2 or 3."""

    def __init__(self, dynapcnnlayer_indx: Any, modules_count: Any) -> None:
        self.dynapcnnlayer_indx, self.modules_count = dynapcnnlayer_indx, modules_count
        super().__init__(f"A DynapCNNLayer {dynapcnnlayer_indx} should have 2 or 3 modules but found {modules_count}.")


class WrongPoolingModule(Exception):
    """A pooling module that cannot become a sum pooling."""

    def __init__(self, pooling_module: Any) -> None:
        self.pooling_module = pooling_module
        super().__init__(
            f"The function 'utils.build_SumPool2d(mod)' expects 'mod = nn.AvgPool2d' but got 'mod = {pooling_module}'."
        )


class UnsupportedLayerType(Exception):
    """A layer type that the chip cannot run (the message lists the layers)."""


class InvalidModel(Exception):
    """Neither a DynapcnnNetwork nor a graph of DynapcnnLayers."""

    def __init__(self, model: Any) -> None:
        self.model = model
        super().__init__(f"'model' accepts either a DynapCNNNetwork or a DynapCNNNetworkGraph but {model} was given.")


class InvalidTorchModel(Exception):
    """Something that should be an ``nn.Module`` is not."""

    def __init__(self, network_type: str) -> None:
        self.network_type = network_type
        super().__init__(f"A {network_type} needs to be of type nn.Module.")


class InvalidGraphStructure(Exception):
    """The model's graph breaks one of the chip's structural rules (the message names the node)."""


class InvalidModelWithDVSSetup(Exception):
    """The model has a DVSLayer but ``dvs_input=False`` was passed."""

    def __init__(self) -> None:
        super().__init__("The network provided has a DVSLayer instance but argument 'dvs_input' is set to False.")


class InvalidEdge(Exception):
    """An edge between two layer kinds that cannot follow one another on the chip."""

    def __init__(self, edge: Any, source: Any, target: Any) -> None:
        self.edge, self.source, self.target = edge, source, target
        super().__init__(f"Invalid edge {edge}: {source} can not target {target}. " + default_invalid_structure_string)


class UnknownNode(Exception):
    """A node that belongs to no DynapcnnLayer."""

    def __init__(self, node: Any) -> None:
        self.node = node
        super().__init__(f"Node {node} could not be found within any DynapCNNLayer mapper.")


class MaxDestinationsReached(Exception):
    """A layer sends its output to more than two layers."""

    def __init__(self, dynapcnnlayer_index: Any) -> None:
        self.dynapcnnlayer_index = dynapcnnlayer_index
        super().__init__(
            f"DynapCNNLayer with index {dynapcnnlayer_index} has more than two destinations, "
            "and a maximum of two are allowed"
        )


class InvalidLayerLoop(Exception):
    """Two layers that would send to each other."""

    def __init__(self, dynapcnnlayerA_index: Any, dynapcnnlayerB_index: Any) -> None:
        self.dynapcnnlayerA_index, self.dynapcnnlayerB_index = dynapcnnlayerA_index, dynapcnnlayerB_index
        super().__init__(
            f"DynapCNNLayer {dynapcnnlayerA_index} can not connect to {dynapcnnlayerB_index} "
            "since a reverse edge already exists."
        )


class InvalidLayerDestination(Exception):
    """A destination that a layer cannot send to."""

    def __init__(self, dynapcnnlayerA: Any, dynapcnnlayerB: Any) -> None:
        self.dynapcnnlayerA, self.dynapcnnlayerB = dynapcnnlayerA, dynapcnnlayerB
        super().__init__(f"DynapCNNLayer {dynapcnnlayerA} can not connect to {dynapcnnlayerB}.")
