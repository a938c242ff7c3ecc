"""An independent reference for NIR graphs: NIR's equations stepped with forward Euler, in float64 numpy.

Every edge into a node is summed; an edge from a node not yet computed in this step (a recurrent edge) carries that
node's output of the previous step, zero at the first step (what nirtorch and norse run). Neurons: ``LIF`` /
``CubaLIF`` spike where ``v > v_threshold`` (one spike per step) and reset to ``v_reset``; ``LI`` outputs its
potential. States start at rest (``v = v_leak``, ``I = 0``).
"""

from __future__ import annotations

import numpy as np


def _decay(dt, tau):
    return dt / np.asarray(tau, dtype=np.float64)


def _affine(node, x):
    out = x @ np.asarray(node.weight, dtype=np.float64).T
    return out + np.asarray(node.bias, dtype=np.float64) if hasattr(node, "bias") else out


def _neuron(name, node, x, state, dt):
    rest = np.asarray(getattr(node, "v_leak", 0.0), dtype=np.float64)
    v = state.get(name + ".v", np.broadcast_to(rest, x.shape).copy())
    r = np.asarray(node.r, dtype=np.float64)
    if type(node).__name__ == "CubaLIF":
        i = state.get(name + ".i", np.zeros_like(x))
        k = _decay(dt, node.tau_syn)
        i = i + k * (-i + np.asarray(node.w_in, dtype=np.float64) * x)
        state[name + ".i"] = i
        drive, tau = r * i, node.tau_mem
    else:
        drive, tau = r * x, node.tau
    v = v + _decay(dt, tau) * (rest - v + drive)
    if type(node).__name__ == "LI":
        state[name + ".v"] = v
        return v
    z = (v > np.asarray(node.v_threshold, dtype=np.float64)).astype(np.float64)
    state[name + ".v"] = np.where(z > 0, np.asarray(node.v_reset, dtype=np.float64), v)
    return z


def run(graph, order, x, dt):
    """Outputs ``(B, T, ...)`` of ``graph`` (flat) on ``x`` ``(B, T, ...)``; ``order``: the compute nodes' order."""
    sources = {n: [a for a, b in graph.edges if b == n] for n in graph.nodes}
    out_name = next(n for n, v in graph.nodes.items() if type(v).__name__ == "Output")
    in_name = next(n for n, v in graph.nodes.items() if type(v).__name__ == "Input")
    state: dict = {}
    previous: dict = {}
    outs = []
    for t in range(x.shape[1]):
        now = {in_name: x[:, t].astype(np.float64)}
        for name in [*order, out_name]:
            parts = [now[s] if s in now else previous.get(s) for s in sources[name]]
            total = sum(p for p in parts if p is not None)
            node = graph.nodes[name]
            kind = type(node).__name__
            if kind in ("Affine", "Linear"):
                now[name] = _affine(node, total)
            elif kind in ("LIF", "CubaLIF", "LI"):
                now[name] = _neuron(name, node, total, state, dt)
            else:
                now[name] = total
        previous = now
        outs.append(now[out_name])
    return np.stack(outs, 1)
