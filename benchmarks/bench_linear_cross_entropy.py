"""Benchmark: chunked ``linear_cross_entropy`` (value and three gradients).

Contenders, interleaved in one process on the same seeded float32 inputs:

* ``lossbook chunked``: ``value_and_grad(linear_cross_entropy)`` (default chunk);
* ``numpy naive``: full logits ``hidden @ weight.T``, the fused
  ``value_and_grad(softmax_cross_entropy)`` on them, then ``G @ W`` and ``G.T @ h``;
* ``torch naive`` (if PyTorch is installed): ``F.linear`` + ``F.cross_entropy`` +
  ``backward()``;
* ``torch chunked`` (if ``torch.nn.functional.linear_cross_entropy`` exists):
  the same with ``options=LinearCrossEntropyOptions()`` + ``backward()``.

PyTorch runs with 2 threads, as does OpenBLAS on the 2-core machine. Each
contender is timed after a warm-up, ``--repeat`` times, min and median;
ratios are to ``torch chunked`` and to one ``np.exp`` pass over the (N, V)
logits. Peak memory is measured per contender in a fresh subprocess, as the
growth of the resident set (sampled every millisecond) during one call,
minus the inputs; for the NumPy contenders the ``tracemalloc`` peak is given
too. Both include the gradients themselves (N*H + V*H floats).

``--sweep`` instead times lossbook at several chunk sizes, to pick the default.

Run with ``python benchmarks/bench_linear_cross_entropy.py [--repeat 3] [--small]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

import lossbook as lb

SHAPES = [(4096, 512, 32000), (1024, 1024, 128256)]
SMALL_SHAPES = [(1024, 256, 8000)]
SEED = 20261130

try:  # PyTorch is optional
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(2)
except ImportError:  # pragma: no cover
    torch = None


def make_inputs(shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, h, v = shape
    rng = np.random.default_rng(SEED)
    hidden = rng.standard_normal((n, h), dtype=np.float32)
    weight = rng.standard_normal((v, h), dtype=np.float32) * np.float32(h**-0.5)
    target = rng.integers(0, v, n)
    return hidden, weight, target


def numpy_naive(hidden: np.ndarray, weight: np.ndarray, target: np.ndarray) -> Any:
    logits = hidden @ weight.T
    value, g = lb.value_and_grad(lb.softmax_cross_entropy)(logits, target)
    return value, g @ weight, g.T @ hidden


def lossbook_chunked(
    hidden: np.ndarray, weight: np.ndarray, target: np.ndarray, chunk_size: int | None = None
) -> Any:
    return lb.value_and_grad(lb.linear_cross_entropy)(hidden, weight, target, chunk_size=chunk_size)


def contenders(
    hidden: np.ndarray, weight: np.ndarray, target: np.ndarray
) -> dict[str, Callable[[], Any]]:
    result: dict[str, Callable[[], Any]] = {
        "lossbook chunked": lambda: lossbook_chunked(hidden, weight, target),
        "numpy naive": lambda: numpy_naive(hidden, weight, target),
    }
    if torch is None:
        return result
    th = torch.from_numpy(hidden).requires_grad_()
    tw = torch.from_numpy(weight).requires_grad_()
    tt = torch.from_numpy(target)

    def torch_run(chunked: bool) -> Any:
        th.grad = tw.grad = None
        if chunked:
            options = torch.nn.LinearCrossEntropyOptions()
            loss = F.linear_cross_entropy(th, tw, tt, options=options)
        else:
            loss = F.cross_entropy(F.linear(th, tw), tt)
        loss.backward()
        return loss.item(), th.grad, tw.grad

    result["torch naive"] = lambda: torch_run(False)
    if hasattr(F, "linear_cross_entropy"):
        result["torch chunked"] = lambda: torch_run(True)
    return result


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_growth(fn: Callable[[], Any]) -> int:
    """Largest resident-set growth during one call of `fn`, sampled every millisecond."""
    start = rss_bytes()
    peak = start
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_bytes())
            time.sleep(0.001)

    thread = threading.Thread(target=sample)
    thread.start()
    try:
        fn()
    finally:
        done.set()
        thread.join()
    return max(peak, rss_bytes()) - start


def measure_memory(shape: tuple[int, int, int], name: str) -> dict[str, float]:
    """Run in a fresh process: RSS growth, and tracemalloc peak for NumPy contenders."""
    hidden, weight, target = make_inputs(shape)
    fn = contenders(hidden, weight, target)[name]
    result = {"rss": float(peak_rss_growth(fn))}
    if not name.startswith("torch"):
        tracemalloc.start()
        fn()
        result["tracemalloc"] = float(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return result


def memory_in_subprocess(shape: tuple[int, int, int], name: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--memory", json.dumps([list(shape), name])],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def time_interleaved(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()  # warm up
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def check_agreement(fns: dict[str, Callable[[], Any]]) -> None:
    ref_value, ref_dh, ref_dw = fns["numpy naive"]()
    for name, fn in fns.items():
        value, dh, dw = fn()[0], *(np.asarray(g) for g in _grads(fn()))
        assert abs(float(value) - float(ref_value)) <= 1e-4 * abs(float(ref_value)), name
        for got, ref in ((dh, ref_dh), (dw, ref_dw)):
            scale = float(np.max(np.abs(ref)))
            assert float(np.max(np.abs(got - ref))) <= 1e-3 * scale, name


def _grads(result: Any) -> tuple[Any, Any]:
    if isinstance(result[1], lb.LinearCrossEntropyGrad):
        return result[1].hidden, result[1].weight
    return result[1], result[2]


def report(shape: tuple[int, int, int], repeat: int) -> None:
    n, h, v = shape
    hidden, weight, target = make_inputs(shape)
    fns = contenders(hidden, weight, target)
    logits = np.empty((n, v), np.float32)
    np.matmul(hidden, weight.T, out=logits)
    exps = np.empty_like(logits)
    fns_timed = {"np.exp over (N, V)": lambda: np.exp(logits, out=exps), **fns}
    if shape[0] * shape[2] <= 2**25:
        check_agreement(fns)
    times = time_interleaved(fns_timed, repeat)
    exp_min = min(times["np.exp over (N, V)"])
    ref = "torch chunked" if "torch chunked" in times else "numpy naive"
    ref_min, ref_median = min(times[ref]), statistics.median(times[ref])
    logits_mib = n * v * 4 / 2**20
    print(f"\nN={n}, H={h}, V={v}, float32; logits would be {logits_mib:.0f} MiB")
    print(
        "| contender | min s | median s | min / "
        + ref
        + " | median / "
        + ref
        + " | min / exp | peak RSS growth MiB | tracemalloc peak MiB |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, ts in times.items():
        memory = {} if name.startswith("np.exp") else memory_in_subprocess(shape, name)
        rss = f"{memory['rss'] / 2**20:.0f}" if "rss" in memory else ""
        traced = f"{memory['tracemalloc'] / 2**20:.0f}" if "tracemalloc" in memory else ""
        print(
            f"| {name} | {min(ts):.3f} | {statistics.median(ts):.3f} | "
            f"{min(ts) / ref_min:.2f} | {statistics.median(ts) / ref_median:.2f} | "
            f"{min(ts) / exp_min:.1f} | {rss} | {traced} |",
            flush=True,
        )
    grads_mib = (n * h + v * h) * 4 / 2**20
    print(
        f"(gradients themselves: {grads_mib:.0f} MiB; 1/8 of the logits: {logits_mib / 8:.0f} MiB)"
    )


def sweep(shape: tuple[int, int, int], repeat: int) -> None:
    """Time lossbook at several chunk sizes (rows of logits per block)."""
    n, h, v = shape
    hidden, weight, target = make_inputs(shape)
    row_counts = [16, 32, 64, 128, 256]
    fns = {
        str(rows): (lambda rows=rows: lossbook_chunked(hidden, weight, target, rows))
        for rows in row_counts
    }
    times = time_interleaved(fns, repeat)
    print(f"\nchunk sweep, N={n}, H={h}, V={v}, float32")
    print("| rows per block | logits block MiB | min s | median s |")
    print("| --- | --- | --- | --- |")
    for rows in row_counts:
        ts = times[str(rows)]
        print(
            f"| {rows} | {rows * v * 4 / 2**20:.1f} | {min(ts):.3f} | {statistics.median(ts):.3f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--small", action="store_true", help="one small shape, for a smoke test")
    parser.add_argument("--sweep", action="store_true", help="time lossbook's chunk sizes")
    parser.add_argument("--memory", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory:
        shape, name = json.loads(args.memory)
        print(json.dumps(measure_memory(tuple(shape), name)))
        return
    print(f"numpy {np.__version__}, torch {None if torch is None else torch.__version__}")
    print(f"load average before: {os.getloadavg()}")
    shapes = SMALL_SHAPES if args.small else SHAPES
    for shape in shapes:
        if args.sweep:
            sweep(shape, args.repeat)
        else:
            report(shape, args.repeat)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
