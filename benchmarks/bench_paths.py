"""Benchmark every loss path of lossbook against np.exp, PyTorch, JAX and plain NumPy.

For each shape and dtype, and each path -- softmax cross-entropy with class
indices, with label smoothing 0.1 and with probability targets; binary
cross-entropy with logits with and without ``pos_weight``; sigmoid focal loss
(gamma 2, alpha 0.25) and softmax focal loss (gamma 2) -- this times, in one
process and interleaved (every contender once per round, in rotating order):

* one ``np.exp(logits)`` pass, the unit of every ratio;
* ``lossbook.value_and_grad(loss)`` and the loss alone (mean reduction);
* the same loss in PyTorch, forward + backward with 1 and with 2 threads, and
  forward alone with 2 threads (when torch is installed);
* ``jax.jit(jax.value_and_grad(loss))`` (when jax is installed; one thread
  unless ``--jax-threads`` says otherwise, set before jax is imported);
* the plain NumPy chain a tutorial would write, where there is one.

It prints one table per dtype: min and median time of lossbook's
value_and_grad in ms, then ratios of minima (median in parentheses where asked
with ``--medians``): lossbook / np.exp, torch 1 thread / np.exp, torch 2
threads / np.exp, jax / np.exp, NumPy chain / np.exp, lossbook value only /
torch forward, and lossbook's peak extra memory (tracemalloc, during
value_and_grad) / logits bytes, gradient included. Timings on a shared
machine are noisy: compare minima, and read the load average printed first.

Run with ``python benchmarks/bench_paths.py [--repeat N] [--shapes 8192x1000,...]``.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

PATHS = [
    "index",
    "smoothed",
    "probability",
    "bce",
    "bce pos_weight",
    "sigmoid focal",
    "softmax focal",
]
SEED = 20240604


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="interleaved rounds")
    parser.add_argument("--shapes", default="8192x1000", help="comma-separated NxC")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--jax-threads", type=int, default=1)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--no-jax", action="store_true")
    parser.add_argument("--medians", action="store_true", help="also print median ratios")
    return parser.parse_args()


ARGS = parse_args()
if ARGS.jax_threads == 1:
    os.environ.setdefault(
        "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    )

import lossbook as lb  # noqa: E402

try:
    if ARGS.no_torch:
        raise ImportError
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None
try:
    if ARGS.no_jax:
        raise ImportError
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
except ImportError:
    jax = None


def make_inputs(n: int, c: int, dtype: Any) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    z = (rng.standard_normal((n, c), dtype=np.float32) * 2).astype(dtype)
    y = rng.integers(0, c, size=n)
    t = rng.random((n, c), dtype=np.float32).astype(dtype)
    t /= t.sum(axis=1, keepdims=True)
    b = (rng.random((n, c), dtype=np.float32) < 0.1).astype(dtype)
    pw = np.linspace(0.5, 4.0, c).astype(dtype)
    return {"z": z, "y": y, "t": t, "b": b, "pw": pw}


def lossbook_call(path: str, d: dict[str, np.ndarray], grad: bool) -> Callable[[], Any]:
    f: Callable[..., Any]
    table: dict[str, tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = {
        "index": (lb.softmax_cross_entropy, (d["z"], d["y"]), {}),
        "smoothed": (lb.softmax_cross_entropy, (d["z"], d["y"]), {"label_smoothing": 0.1}),
        "probability": (lb.softmax_cross_entropy, (d["z"], d["t"]), {}),
        "bce": (lb.binary_cross_entropy_with_logits, (d["z"], d["b"]), {}),
        "bce pos_weight": (
            lb.binary_cross_entropy_with_logits,
            (d["z"], d["b"]),
            {"pos_weight": d["pw"]},
        ),
        "sigmoid focal": (lb.sigmoid_focal_loss, (d["z"], d["b"]), {"reduction": "mean"}),
        "softmax focal": (lb.softmax_focal_loss, (d["z"], d["y"]), {}),
    }
    loss, args, kwargs = table[path]
    f = lb.value_and_grad(loss) if grad else loss
    return lambda: f(*args, **kwargs)


def numpy_chain(path: str, d: dict[str, np.ndarray]) -> Callable[[], Any] | None:
    """The textbook NumPy code for the path (full-size temporaries), or None."""
    z, y, n = d["z"], d["y"], d["z"].shape[0]

    def softmax_dense(target: np.ndarray) -> Any:
        shifted = z - z.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        log_p = shifted - np.log(total)
        value = -np.sum(target * log_p) / n
        grad = (e / total * target.sum(axis=1, keepdims=True) - target) / n
        return value, grad

    def index() -> Any:
        rows = np.arange(n)
        shifted = z - z.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        value = np.mean(np.log(total[:, 0]) - shifted[rows, y])
        grad = e / total
        grad[rows, y] -= 1.0
        grad /= n
        return value, grad

    def smoothed() -> Any:
        target = np.full(z.shape, 0.1 / z.shape[1], z.dtype)
        target[np.arange(n), y] += 0.9
        return softmax_dense(target)

    def bce(pos_weight: np.ndarray | None) -> Callable[[], Any]:
        def run() -> Any:
            b = d["b"]
            softplus = np.log1p(np.exp(-np.abs(z))) + np.maximum(-z, 0)
            coef = 1 + (pos_weight - 1) * b if pos_weight is not None else 1
            value = np.mean((1 - b) * z + coef * softplus)
            sig = 1 / (1 + np.exp(-z))
            grad = ((1 - b) * sig - (coef - (1 - b)) * (1 - sig)) / z.size
            return value, grad

        return run

    chains: dict[str, Callable[[], Any]] = {
        "index": index,
        "smoothed": smoothed,
        "probability": lambda: softmax_dense(d["t"]),
        "bce": bce(None),
        "bce pos_weight": bce(d["pw"]),
    }
    return chains.get(path)


def torch_fn(path: str, d: dict[str, np.ndarray]) -> Callable[[Any], Any]:
    y = torch.from_numpy(d["y"])
    t = torch.from_numpy(d["t"])
    b = torch.from_numpy(d["b"])
    pw = torch.from_numpy(d["pw"])

    def sigmoid_focal(z: Any) -> Any:  # torchvision.ops.sigmoid_focal_loss, mean
        p = torch.sigmoid(z)
        ce = F.binary_cross_entropy_with_logits(z, b, reduction="none")
        p_t = p * b + (1 - p) * (1 - b)
        loss = ce * (1 - p_t) ** 2
        loss = (0.25 * b + 0.75 * (1 - b)) * loss
        return loss.mean()

    def softmax_focal(z: Any) -> Any:
        log_pt = F.log_softmax(z, dim=1).gather(1, y[:, None])[:, 0]
        return (-((1 - log_pt.exp()) ** 2) * log_pt).mean()

    fns: dict[str, Callable[[Any], Any]] = {
        "index": lambda z: F.cross_entropy(z, y),
        "smoothed": lambda z: F.cross_entropy(z, y, label_smoothing=0.1),
        "probability": lambda z: F.cross_entropy(z, t),
        "bce": lambda z: F.binary_cross_entropy_with_logits(z, b),
        "bce pos_weight": lambda z: F.binary_cross_entropy_with_logits(z, b, pos_weight=pw),
        "sigmoid focal": sigmoid_focal,
        "softmax focal": softmax_focal,
    }
    return fns[path]


def torch_calls(path: str, d: dict[str, np.ndarray]) -> dict[str, Callable[[], Any]]:
    fn = torch_fn(path, d)
    z = torch.from_numpy(d["z"])

    def fwd_bwd(threads: int) -> Callable[[], Any]:
        def run() -> Any:
            torch.set_num_threads(threads)
            zz = z.detach().requires_grad_(True)
            loss = fn(zz)
            loss.backward()
            return loss.item(), zz.grad

        return run

    def fwd() -> Any:
        torch.set_num_threads(2)
        with torch.no_grad():
            return fn(z).item()

    return {"torch 1t": fwd_bwd(1), "torch 2t": fwd_bwd(2), "torch fwd 2t": fwd}


def jax_call(path: str, d: dict[str, np.ndarray]) -> Callable[[], Any]:
    """jit(value_and_grad) of the path's loss; the targets are jit arguments, not
    constants (as constants, XLA spends seconds folding them)."""

    def index(z: Any, a: dict[str, Any]) -> Any:
        log_p = jax.nn.log_softmax(z, axis=1)
        return -jnp.mean(jnp.take_along_axis(log_p, a["y"][:, None], axis=1))

    def smoothed(z: Any, a: dict[str, Any]) -> Any:
        log_p = jax.nn.log_softmax(z, axis=1)
        nll = -jnp.take_along_axis(log_p, a["y"][:, None], axis=1)[:, 0]
        return jnp.mean(0.9 * nll - 0.1 * jnp.mean(log_p, axis=1))

    def bce(z: Any, a: dict[str, Any], weighted: bool = False) -> Any:
        log_pos, log_neg = jax.nn.log_sigmoid(z), jax.nn.log_sigmoid(-z)
        b = a["b"]
        pos = a["pw"] * b if weighted else b
        return -jnp.mean(pos * log_pos + (1 - b) * log_neg)

    def sigmoid_focal(z: Any, a: dict[str, Any]) -> Any:
        b = a["b"]
        p = jax.nn.sigmoid(z)
        ce = -(b * jax.nn.log_sigmoid(z) + (1 - b) * jax.nn.log_sigmoid(-z))
        p_t = p * b + (1 - p) * (1 - b)
        return jnp.mean((0.25 * b + 0.75 * (1 - b)) * ce * (1 - p_t) ** 2)

    def softmax_focal(z: Any, a: dict[str, Any]) -> Any:
        log_p = jax.nn.log_softmax(z, axis=1)
        log_pt = jnp.take_along_axis(log_p, a["y"][:, None], axis=1)
        return jnp.mean(-((1 - jnp.exp(log_pt)) ** 2) * log_pt)

    def probability(z: Any, a: dict[str, Any]) -> Any:
        return -jnp.mean(jnp.sum(a["t"] * jax.nn.log_softmax(z, axis=1), axis=1))

    fns: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
        "index": index,
        "smoothed": smoothed,
        "probability": probability,
        "bce": bce,
        "bce pos_weight": lambda z, a: bce(z, a, weighted=True),
        "sigmoid focal": sigmoid_focal,
        "softmax focal": softmax_focal,
    }
    compiled = jax.jit(jax.value_and_grad(fns[path]))
    z = jnp.asarray(d["z"])
    aux = {key: jnp.asarray(d[key]) for key in ("y", "t", "b", "pw")}

    def run() -> Any:
        _value, grad = compiled(z, aux)
        return grad.block_until_ready()

    return run


def peak_ratio(fn: Callable[[], Any], nbytes: int) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    start = tracemalloc.get_traced_memory()[0]
    result = fn()
    peak = tracemalloc.get_traced_memory()[1] - start
    tracemalloc.stop()
    del result
    return peak / nbytes


def interleaved(candidates: dict[str, Callable[[], Any]], repeat: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for fn in candidates.values():
        fn()  # warm up: compile, page in, load BLAS
    names = list(candidates)
    for r in range(repeat):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            candidates[name]()
            times[name].append(time.perf_counter() - start)
    return times


def main() -> None:
    print(f"load average at start: {os.getloadavg()}; numpy {np.__version__}", end="")
    print(f"; torch {torch.__version__}" if torch else "; no torch", end="")
    print(f"; jax {jax.__version__} ({ARGS.jax_threads} thread)" if jax else "; no jax")
    header = (
        f"{'path':15s} {'vg min ms':>9s} {'vg med':>7s} {'lb/exp':>7s} {'t1/exp':>7s} "
        f"{'t2/exp':>7s} {'jax/exp':>7s} {'np/exp':>7s} {'lb/t2':>6s} "
        f"{'val/tfwd':>8s} {'peak/logits':>11s}"
    )
    for dtype_name in ARGS.dtypes.split(","):
        dtype = np.dtype(dtype_name)
        for shape in ARGS.shapes.split(","):
            n, c = (int(part) for part in shape.split("x"))
            d = make_inputs(n, c, dtype)
            print(f"\n{dtype_name} logits ({n}, {c}), {ARGS.repeat} interleaved rounds")
            print(header)
            for path in ARGS.paths.split(","):
                candidates: dict[str, Callable[[], Any]] = {
                    "exp": functools.partial(np.exp, d["z"]),
                    "lb": lossbook_call(path, d, grad=True),
                    "lb value": lossbook_call(path, d, grad=False),
                }
                chain = numpy_chain(path, d)
                if chain is not None:
                    candidates["numpy"] = chain
                if torch is not None:
                    candidates.update(torch_calls(path, d))
                if jax is not None:
                    candidates["jax"] = jax_call(path, d)
                times = interleaved(candidates, ARGS.repeat)
                best = {name: min(ts) for name, ts in times.items()}
                med = {name: statistics.median(ts) for name, ts in times.items()}
                peak = peak_ratio(candidates["lb"], d["z"].nbytes)

                def ratio(a: str, b: str, table: dict[str, float] = best) -> str:
                    return f"{table[a] / table[b]:.2f}" if a in table and b in table else "-"

                line = (
                    f"{path:15s} {best['lb'] * 1e3:9.1f} {med['lb'] * 1e3:7.1f} "
                    f"{ratio('lb', 'exp'):>7s} {ratio('torch 1t', 'exp'):>7s} "
                    f"{ratio('torch 2t', 'exp'):>7s} {ratio('jax', 'exp'):>7s} "
                    f"{ratio('numpy', 'exp'):>7s} {ratio('lb', 'torch 2t'):>6s} "
                    f"{ratio('lb value', 'torch fwd 2t'):>8s} {peak:11.2f}"
                )
                print(line, flush=True)
                if ARGS.medians:
                    print(
                        f"{'  (medians)':15s} {'':9s} {'':7s} {ratio('lb', 'exp', med):>7s} "
                        f"{ratio('torch 1t', 'exp', med):>7s} {ratio('torch 2t', 'exp', med):>7s} "
                        f"{ratio('jax', 'exp', med):>7s} {ratio('numpy', 'exp', med):>7s} "
                        f"{ratio('lb', 'torch 2t', med):>6s} "
                        f"{ratio('lb value', 'torch fwd 2t', med):>8s}"
                    )


if __name__ == "__main__":
    main()
