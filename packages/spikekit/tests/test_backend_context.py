"""use_backend across asyncio tasks, threads and processes; StepModel models on any backend."""

from __future__ import annotations

import asyncio
import contextvars
import multiprocessing
import types
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest
import torch

from spikekit.compute import StepModel, current_backend, run_neuron, run_step_loop, use_backend
from spikekit.plugins import BackendSpec, hookimpl
from spikekit.testing import isolated_host


class _Named:
    def __init__(self, name):
        self.name = name

    def unsupported_reason(self, x, state, params):
        return None if isinstance(params, StepModel) or self.name == "torch" else "toy backends run StepModels only"

    def run(self, x, state, params):
        if not isinstance(params, StepModel):
            return x, dict(state), {}
        return run_step_loop(x, state, params)


@pytest.fixture
def toy_backends():
    plugin = types.ModuleType("toy_backends")
    plugin.spikekit_backends = hookimpl(lambda: [BackendSpec(n, _Named(n)) for n in ("torch", "a", "b")])
    with isolated_host(autoload=False) as h:
        h.register(plugin, name="toy")
        yield


def test_asyncio_tasks_never_see_each_others_block(toy_backends):
    seen: dict[str, list[str]] = {"a": [], "b": [], "plain": []}

    async def worker(name):
        if name == "plain":
            for _ in range(4):
                seen[name].append(current_backend())
                await asyncio.sleep(0)
            return
        with use_backend(name):
            for _ in range(4):
                seen[name].append(current_backend())
                await asyncio.sleep(0)  # the other tasks run here, inside their own blocks

    async def main():
        await asyncio.gather(worker("a"), worker("b"), worker("plain"))

    asyncio.run(main())
    assert seen == {"a": ["a"] * 4, "b": ["b"] * 4, "plain": ["torch"] * 4}


def test_a_task_created_inside_a_block_keeps_it(toy_backends):
    async def main():
        with use_backend("a"):
            task = asyncio.create_task(asyncio.sleep(0, result=None))
            inner = asyncio.create_task(_current())
        await task
        return await inner, current_backend()

    async def _current():
        await asyncio.sleep(0)
        return current_backend()

    assert asyncio.run(main()) == ("a", "torch")


def test_threads_start_on_the_default_and_copy_context_carries_the_block(toy_backends):
    with use_backend("a"), ThreadPoolExecutor(2) as pool:
        assert pool.submit(current_backend).result() == "torch"  # documented: a new thread does not inherit
        assert pool.submit(contextvars.copy_context().run, current_backend).result() == "a"
        assert current_backend() == "a"
    assert current_backend() == "torch"


def test_asyncio_to_thread_carries_the_block(toy_backends):
    async def main():
        with use_backend("b"):
            return await asyncio.to_thread(current_backend)

    assert asyncio.run(main()) == "b"


def test_a_child_process_does_not_inherit_the_block(toy_backends):
    with use_backend("a"), ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert pool.submit(current_backend).result() == "torch"


def test_nested_blocks_restore_the_outer_one(toy_backends):
    with use_backend("a"):
        with use_backend("b"):
            assert current_backend() == "b"
        assert current_backend() == "a"


# ------------------------------------------------------------------------------------------------- StepModel
def _leaky_step(x, state, params):
    v = params["alpha"] * state["v_mem"] + x
    spikes = (v >= 1.0).to(v.dtype)
    return spikes, {"v_mem": v - spikes}


def test_run_step_loop_follows_the_equations():
    x = torch.rand(2, 5, 3)
    alpha = torch.tensor(0.8, requires_grad=True)
    model = StepModel(_leaky_step, {"alpha": alpha}, kind="leaky", record_states=True)
    out, final, recs = run_step_loop(x, {"v_mem": torch.zeros(2, 3)}, model)
    v = torch.zeros(2, 3)
    for t in range(5):
        v = 0.8 * v + x[:, t]
        s = (v >= 1.0).float()
        assert torch.equal(out[:, t], s)
        v = v - s
        assert torch.allclose(recs["v_mem"][:, t], v)
    assert torch.allclose(final["v_mem"], v)
    final["v_mem"].sum().backward()
    assert alpha.grad is not None


def test_a_step_that_changes_the_state_keys_is_refused():
    model = StepModel(lambda x, s, p: (x, {"other": x}), {}, kind="bad", layer_name="BadLayer")
    with pytest.raises(ValueError, match=r"BadLayer.*'bad'.*\['other'\].*\['v_mem'\]"):
        run_step_loop(torch.ones(1, 2, 1), {"v_mem": torch.zeros(1, 1)}, model)


def test_step_models_go_through_backend_selection_and_fallback(toy_backends):
    x = torch.rand(1, 4, 2)
    model = StepModel(_leaky_step, {"alpha": 0.5}, layer_name="Leaky")
    ref = run_step_loop(x, {"v_mem": torch.zeros(1, 2)}, model)
    with use_backend("a"):
        out = run_neuron(None, x, {"v_mem": torch.zeros(1, 2)}, model)
    assert torch.equal(out[0], ref[0])


def test_the_fallback_warning_points_at_the_callers_line(toy_backends):
    from spikekit.compute import NeuronParams
    from spikekit.errors import BackendFallbackWarning

    params = NeuronParams(torch.tensor(1.0), None, torch.tensor(1.0), None, None, None, layer_name="LocatedLayer")
    with use_backend("a"), pytest.warns(BackendFallbackWarning, match="LocatedLayer") as caught:
        run_neuron(None, torch.ones(1, 2, 1), {"v_mem": torch.zeros(1, 1)}, params)
    assert caught[0].filename == __file__
