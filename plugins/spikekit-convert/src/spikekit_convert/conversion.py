"""Swap every module of one exact type for what a mapper function returns (``spikekit.conversion``)."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable

from torch import nn

__all__ = ["replace_module", "replace_module_"]


def replace_module(model: nn.Module, source_class: type, mapper_fn: Callable[[nn.Module], nn.Module]) -> nn.Module:
    """Return a copy of ``model`` in which every module of type ``source_class`` is replaced by ``mapper_fn(module)``.

    Types are matched exactly (``type(m) is source_class``): subclasses are left alone. If ``model`` itself has
    that type, ``mapper_fn(model)`` is returned. ``model`` is never changed.

    Args:
        model: any torch module (containers are searched recursively).
        source_class: the class to replace.
        mapper_fn: called with each matching module, returns its replacement.

    Example:
        >>> snn = replace_module(ann, nn.ReLU, lambda relu: spikekit.layers.IAFSqueeze(batch_size=4))
    """
    if type(model) is source_class:
        return mapper_fn(model)
    new_model = copy.deepcopy(model)
    replace_module_(new_model, source_class, mapper_fn)
    return new_model


def replace_module_(model: nn.Module, source_class: type, mapper_fn: Callable[[nn.Module], nn.Module]) -> None:
    """In place: replace every descendant of exact type ``source_class`` of ``model`` by ``mapper_fn(module)``.

    A module's children are visited before the module itself is tested. ``model`` cannot replace itself: if it
    has type ``source_class`` a ``UserWarning`` says so (use :func:`replace_module`).

    Args:
        model: the container to edit.
        source_class: the class to replace (exact type).
        mapper_fn: called with each matching module, returns its replacement.
    """
    if type(model) is source_class:
        warnings.warn(
            f"replace_module_: the model itself is a {source_class.__name__} and cannot be replaced in place; "
            "call mapper_fn on it directly or use replace_module, which returns a new object",
            UserWarning,
            stacklevel=2,
        )
    for name, child in list(model.named_children()):
        if next(child.children(), None) is not None:
            replace_module_(child, source_class, mapper_fn)
        if type(child) is source_class:
            setattr(model, name, mapper_fn(child))
