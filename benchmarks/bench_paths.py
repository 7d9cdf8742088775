"""Benchmark every loss path of lossbook against np.exp and PyTorch, one process each.

For each path -- softmax cross-entropy with class indices, with label
smoothing 0.1 and with probability targets; binary cross-entropy with logits
with and without ``pos_weight``; sigmoid focal loss (gamma 2, alpha 0.25) and
softmax focal loss (gamma 2) -- this times ``value_and_grad`` (mean
reduction) of:

* ``exp``: one ``np.exp(logits)`` pass, the unit of the ``/exp`` ratios;
* ``lossbook``: ``lossbook.value_and_grad(loss)``;
* ``torch``: the same loss in PyTorch, forward + backward, on ``--torch-threads``
  threads (2 by default), when torch is installed;
* ``before``: lossbook from another source tree (``--before DIR``, a directory
  holding a ``lossbook`` package), to compare two versions in the same run.

Each contender runs in its own process (PyTorch's OpenMP threads otherwise
keep spinning on the cores the next NumPy call needs, which made in-process
ratios swing 2x), the processes alternate (every contender once per round,
the order rotating), and each process reports the minimum of ``--inner``
calls after a warm-up. The table gives, over ``--rounds`` rounds, the minimum
and median of those per-process minima, the ratios of the minima to torch and
to ``exp``, the minimum CPU time of a call (``time.process_time``, all threads:
less disturbed by other processes than the wall clock, but it counts the time
PyTorch's threads spin waiting), and lossbook's peak extra memory during one call, by tracemalloc
and by the resident set size during the first call in a fresh process (Linux's
``VmHWM`` after resetting it through ``/proc/self/clear_refs``; later calls
reuse memory glibc kept), over the logits' bytes (the gradient, one logits'
worth, included). The machine's load average is printed with every table:
on a shared machine compare ratios and minima, not absolute times.

Run with ``python benchmarks/bench_paths.py [--rounds 3] [--shapes 8192x1000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
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
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds (>= 3)")
    parser.add_argument("--inner", type=int, default=5, help="timed calls per process")
    parser.add_argument("--shapes", default="8192x1000", help="comma-separated NxC")
    parser.add_argument("--dtypes", default="float32")
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--torch-threads", type=int, default=2)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--before", help="a directory holding another lossbook, timed too")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # contender:path:dtype:shape
    return parser.parse_args()


def make_inputs(n: int, c: int, dtype: Any) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    z = (rng.standard_normal((n, c), dtype=np.float32) * 2).astype(dtype)
    y = rng.integers(0, c, size=n)
    t = rng.random((n, c), dtype=np.float32).astype(dtype)
    t /= t.sum(axis=1, keepdims=True)
    b = (rng.random((n, c), dtype=np.float32) < 0.1).astype(dtype)
    pw = np.linspace(0.5, 4.0, c).astype(dtype)
    return {"z": z, "y": y, "t": t, "b": b, "pw": pw}


def lossbook_call(path: str, d: dict[str, np.ndarray]) -> Callable[[], Any]:
    import lossbook as lb

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
    f = lb.value_and_grad(loss)
    return lambda: f(*args, **kwargs)


def torch_call(path: str, d: dict[str, np.ndarray], threads: int) -> Callable[[], Any]:
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    y, t = torch.from_numpy(d["y"]), torch.from_numpy(d["t"])
    b, pw = torch.from_numpy(d["b"]), torch.from_numpy(d["pw"])

    def sigmoid_focal(z: Any) -> Any:  # torchvision.ops.sigmoid_focal_loss, mean
        p = torch.sigmoid(z)
        ce = F.binary_cross_entropy_with_logits(z, b, reduction="none")
        p_t = p * b + (1 - p) * (1 - b)
        loss = ce * (1 - p_t) ** 2
        return ((0.25 * b + 0.75 * (1 - b)) * loss).mean()

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
    fn, z = fns[path], torch.from_numpy(d["z"])

    def run() -> Any:
        zz = z.detach().requires_grad_(True)
        loss = fn(zz)
        loss.backward()
        return loss.item(), zz.grad

    return run


def rss_peak_bytes(fn: Callable[[], Any]) -> float:
    """Peak resident set size during fn() above the resident size before it (Linux)."""

    def status(key: str) -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
        raise KeyError(key)

    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
        before = status("VmRSS:")
    except OSError:
        return float("nan")
    result = fn()
    peak = status("VmHWM:") - before
    del result
    return float(peak)


def traced_peak_bytes(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    result = fn()
    peak = tracemalloc.get_traced_memory()[1] - start
    tracemalloc.stop()
    del result
    return float(peak)


def worker(spec: str, args: argparse.Namespace) -> None:
    """Time one contender in this process; print its results as JSON."""
    contender, path, dtype, shape = spec.split(":")
    n, c = (int(part) for part in shape.split("x"))
    d = make_inputs(n, c, np.dtype(dtype))
    out: dict[str, Any] = {}
    if contender == "exp":
        fn: Callable[[], Any] = lambda: np.exp(d["z"])  # noqa: E731
    elif contender == "torch":
        fn = torch_call(path, d, args.torch_threads)
    else:  # lossbook, from this tree or from --before (set on PYTHONPATH by the parent)
        fn = lossbook_call(path, d)
    if contender in ("lossbook", "before"):
        # The first call, in a fresh process: once a call has freed its arrays, glibc
        # keeps the memory mapped for the next one, and RSS would no longer rise.
        out["rss"] = rss_peak_bytes(fn) / d["z"].nbytes
    fn()  # warm up: page in, load BLAS, start the threads
    times, cpu = [], []
    for _ in range(args.inner):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        del result
    out["time"] = min(times)
    out["cpu"] = min(cpu)
    if contender in ("lossbook", "before"):
        out["traced"] = traced_peak_bytes(fn) / d["z"].nbytes
    print(json.dumps(out))


def run_worker(spec: str, args: argparse.Namespace) -> dict[str, Any]:
    env = dict(os.environ)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    root = args.before if spec.startswith("before:") else here
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    command = [sys.executable, os.path.abspath(__file__), "--worker", spec]
    command += ["--inner", str(args.inner), "--torch-threads", str(args.torch_threads)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    args = parse_args()
    if args.worker:
        worker(args.worker, args)
        return
    try:
        if args.no_torch:
            raise ImportError
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    contenders = ["exp", "lossbook"] + (["before"] if args.before else [])
    contenders += ["torch"] if torch_version else []
    print(f"numpy {np.__version__}; torch {torch_version} on {args.torch_threads} threads;", end="")
    print(f" {args.rounds} alternated rounds, each process the min of {args.inner} calls")
    for dtype in args.dtypes.split(","):
        for shape in args.shapes.split(","):
            print(f"\n{dtype} logits {shape}; load average {os.getloadavg()} at start")
            print(
                f"{'path':15s} {'contender':9s} {'min ms':>8s} {'med ms':>8s} "
                f"{'/torch':>7s} {'/exp':>6s} {'cpu ms':>7s} {'traced':>7s} {'RSS':>6s}"
            )
            for path in args.paths.split(","):
                times: dict[str, list[float]] = {name: [] for name in contenders}
                cpu: dict[str, list[float]] = {name: [] for name in contenders}
                memory: dict[str, dict[str, Any]] = {}
                for r in range(args.rounds):
                    order = contenders[r % len(contenders) :] + contenders[: r % len(contenders)]
                    for name in order:
                        result = run_worker(f"{name}:{path}:{dtype}:{shape}", args)
                        times[name].append(result["time"])
                        cpu[name].append(result["cpu"])
                        memory.setdefault(name, result)
                best = {name: min(ts) for name, ts in times.items()}
                best_cpu = {name: min(ts) for name, ts in cpu.items()}
                for name in contenders:
                    if name == "exp" or (name == "torch" and len(contenders) > 2):
                        continue
                    ratio_t = f"{best[name] / best['torch']:.2f}" if "torch" in best else "-"
                    mem = memory.get(name, {})
                    traced = f"{mem['traced']:.2f}" if "traced" in mem else "-"
                    rss = f"{mem['rss']:.2f}" if "rss" in mem else "-"
                    print(
                        f"{path:15s} {name:9s} {best[name] * 1e3:8.1f} "
                        f"{statistics.median(times[name]) * 1e3:8.1f} {ratio_t:>7s} "
                        f"{best[name] / best['exp']:6.1f} {best_cpu[name] * 1e3:7.1f} "
                        f"{traced:>7s} {rss:>6s}",
                        flush=True,
                    )
                if "torch" in best:
                    print(
                        f"{path:15s} {'torch':9s} {best['torch'] * 1e3:8.1f} "
                        f"{statistics.median(times['torch']) * 1e3:8.1f} {'1.00':>7s} "
                        f"{best['torch'] / best['exp']:6.1f} {best_cpu['torch'] * 1e3:7.1f} "
                        f"{'-':>7s} {'-':>6s}",
                        flush=True,
                    )
                print(
                    f"{'':15s} {'exp':9s} {best['exp'] * 1e3:8.1f} "
                    f"{statistics.median(times['exp']) * 1e3:8.1f} {'':7s} {'':6s} "
                    f"{best_cpu['exp'] * 1e3:7.1f}; load {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
            print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
