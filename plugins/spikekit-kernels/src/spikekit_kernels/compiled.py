"""``"compiled"``: a fast path for any neuron model declared as a :class:`~spikekit.compute.StepModel`.

A third party's neuron model needs no C and no kernel to get speed: its layer hands the backend a ``StepModel``
(its per-step function and parameters), and this backend compiles the step with :func:`torch.compile` (fusing the
step's elementwise operations into one kernel, forward and backward) and runs the time loop over the compiled step.
The loop, the state handling and the outputs are those of the reference loop :func:`spikekit.compute.run_step_loop`,
so the results are the reference's up to the rounding of fused arithmetic (the tests compare them).

The compiled step is cached per step function; torch recompiles it for new shapes, dtypes or devices. When
compilation fails (no C compiler for inductor, an operation dynamo cannot trace), the backend warns once, naming the
model, and runs the step uncompiled. ``SPIKEKIT_COMPILED_BACKEND`` chooses torch.compile's backend (default
``"inductor"``; ``"aot_eager"`` compiles nothing and is useful to debug).

torch.compile writes the code it generates to disk and imports it from there, by default under the shared temporary
folder (``torchinductor_<user>`` in it), where another user could plant Python files that this process would then
import. So before compiling anything the backend points inductor's and Triton's caches at a private folder,
``<kernel cache>/torch-compile/inductor`` and ``.../triton`` (the kernel cache is ``$SPIKEKIT_KERNELS_CACHE`` or
``~/.cache/spikekit-kernels``), checked like the kernel cache (:mod:`spikekit_kernels.cache_trust`): through
``TORCHINDUCTOR_CACHE_DIR`` and ``TRITON_CACHE_DIR``, for the whole process. A value the user set for either
variable is kept as it is (the user's choice; a value equal to torch's own default shared folder counts as unset,
since torch writes that value into the environment after its first compile). When the private folder is refused
(a link owned by someone else, a folder others can write without the sticky bit, ...) the backend warns once with a
:class:`~spikekit.errors.BackendFallbackWarning` that names the reason (``"the compiled backend runs the step
uncompiled: ..."``) and runs every step uncompiled (the reference loop; same results, slower).

The LIF family (:class:`~spikekit.compute.NeuronParams`) is not run here: ``fused-cpu`` and ``triton`` cover it
with hand-written kernels. What those need beyond a step function: the activations' specs
(:func:`spikekit.protocols.spec_of`) of kinds the kernels know, and the model written as the LIF-family equations
(see :mod:`spikekit_kernels._plan`).
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

import torch

from spikekit.compute import BackendResult, NeuronParams, StepModel, run_step_loop
from spikekit.errors import BackendFallbackWarning, warn_at_caller
from spikekit_kernels.build_cache import cache_dir
from spikekit_kernels.cache_trust import Refused, private_dir

__all__ = ["CompiledBackend"]


class CompiledBackend:
    """Runs :class:`~spikekit.compute.StepModel` layers with a ``torch.compile``-d step (any device torch compiles for).

    Example:
        >>> from spikekit.compute import get_backend
        >>> get_backend("compiled").name
        'compiled'
    """

    name = "compiled"

    def __init__(self) -> None:
        self._compiled: dict[Callable[..., Any], Callable[..., Any]] = {}
        self._failed: set[Callable[..., Any]] = set()
        self._lock = threading.Lock()
        self._caches: str | bool | None = False  # False: not checked yet; None: private; str: why not

    def unsupported_reason(
        self, x: torch.Tensor, state: Mapping[str, torch.Tensor], params: NeuronParams | StepModel
    ) -> str | None:
        if isinstance(params, NeuronParams):
            return "the compiled backend runs models declared as a StepModel (use fused-cpu or triton for LIF layers)"
        if not isinstance(params, StepModel):
            return f"expected a StepModel, got {type(params).__name__}"
        if x.dim() < 2:
            return f"expects input of shape (batch, time, ...), got shape {tuple(x.shape)}"
        return None

    def _step(self, model: StepModel) -> Callable[..., Any]:
        step = model.step
        with self._lock:
            if self._caches is False:
                self._caches = private_caches()
                if self._caches is not None:
                    warn_at_caller(
                        f"{model.layer_name}: the compiled backend runs the step uncompiled: {self._caches}",
                        BackendFallbackWarning,
                    )
            if step in self._failed or self._caches is not None:
                return step
            compiled = self._compiled.get(step)
            if compiled is None:
                backend = os.environ.get("SPIKEKIT_COMPILED_BACKEND", "inductor")
                compiled = torch.compile(step, backend=backend, dynamic=False)
                self._compiled[step] = compiled
            return compiled

    def run(
        self, x: torch.Tensor, state: Mapping[str, torch.Tensor], params: NeuronParams | StepModel
    ) -> BackendResult:
        reason = self.unsupported_reason(x, state, params)
        if reason is not None:
            raise ValueError(f"{getattr(params, 'layer_name', 'layer')}: the compiled backend cannot run it: {reason}")
        assert isinstance(params, StepModel)
        step = self._step(params)
        if step is params.step:
            return run_step_loop(x, state, params)
        try:
            return run_step_loop(x, state, dataclasses.replace(params, step=step))
        except Exception as exc:
            if not _is_compile_error(exc):
                raise
            with self._lock:
                self._failed.add(params.step)
                self._compiled.pop(params.step, None)
            warn_at_caller(
                f"{params.layer_name}: torch.compile could not compile the step of model {params.kind!r} "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); running it uncompiled",
                BackendFallbackWarning,
            )
            return run_step_loop(x, state, params)


def _default_inductor_dir() -> str:
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    return os.path.abspath(default_cache_dir())


def private_caches() -> str | None:
    """Point torch.compile's inductor and Triton caches at the private folder (unless the user chose them); None
    when done, else why the folder is refused."""
    default = _default_inductor_dir()
    base = cache_dir() / "torch-compile"
    chosen = {
        "TORCHINDUCTOR_CACHE_DIR": lambda v: os.path.abspath(v) != default,
        "TRITON_CACHE_DIR": lambda v: not os.path.abspath(v).startswith(default + os.sep),
    }
    for var, sub in (("TORCHINDUCTOR_CACHE_DIR", "inductor"), ("TRITON_CACHE_DIR", "triton")):
        given = os.environ.get(var)
        if given and chosen[var](given):
            continue
        try:
            real, _created = private_dir(base / sub)
        except Refused as exc:
            return f"its torch.compile cache is refused ({exc}); set {var} to a private folder of your own"
        except OSError as exc:
            return f"its torch.compile cache {base / sub} cannot be made ({exc})"
        os.environ[var] = str(real)
    return None


def _is_compile_error(exc: Exception) -> bool:
    """Whether ``exc`` comes from torch.compile's machinery rather than from the model's own code."""
    module = type(exc).__module__
    return (
        module.startswith(("torch._dynamo", "torch._inductor", "torch._subclasses")) or "Compiler" in type(exc).__name__
    )
