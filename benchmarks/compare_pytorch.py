#!/usr/bin/python3
"""Side-by-side training throughput: this library vs PyTorch on the CPU, same protocol, same cores.

Usage (from the repository root, after `cmake --workflow --preset release`):
    /usr/bin/python3 benchmarks/compare_pytorch.py [--models S,M,MBD,L,CNN] [--budgets 1,2] [--epochs 6]
                                                   [--precisions fp32,bf16]

Protocol (issue 7): FashionMNIST's 50,000 training images preloaded, batch 128, reshuffled every
epoch, Adam lr 1e-3, softmax cross-entropy; seconds per training epoch (no validation), the median
of the epochs after a warm-up epoch. Models: S 784-32-10, M 784-256-128-10, MBD = M with BatchNorm1d
after each hidden Linear and dropout 0.2, L 784-1024-1024-1024-10; ReLU everywhere. CNN: conv 3x3
(1->32, padding 1) - BatchNorm2d - ReLU - MaxPool2d(2) - conv 3x3 (32->64, padding 1) - BatchNorm2d
- ReLU - MaxPool2d(2) - Flatten - Linear(3136, 128) - ReLU - Linear(128, 10) on 1 x 28 x 28 images.

PyTorch is measured at its best on the same cores: Debian's torch runs its matrix products in
OpenBLAS's own thread pool, which torch.set_num_threads does not control, so every combination of
the two pools for the core budget is tried (1 core: 1 + 1; 2 cores: torch 1 + BLAS 2, torch 2 +
BLAS 1, 2 + 2 with OMP_WAIT_POLICY=PASSIVE), each with torch.set_flush_denormal on and off, and the
fastest is compared. For the CNN, whose convolutions Debian's torch runs through oneDNN (mkldnn)
on torch's own OpenMP threads, each of those settings is also tried with torch.backends.mkldnn off
and with channels_last tensors (4 combinations): 8 settings per thread pool, too many to time for
whole epochs, so each is first screened on --screen-steps training steps and only the fastest
(lowest median step) is timed over the epochs. Every PyTorch setting runs with glibc's malloc
keeping the memory PyTorch frees (KEEP_FREED_MEMORY below); --pytorch-malloc-defaults times PyTorch
with glibc's defaults instead.

--precisions fp32,bf16 also measures both systems with bf16 matrix products: this library with
`bench_training --precision bf16` (bf16 inputs, fp32 accumulation and fp32 outputs, docs/bf16.md),
PyTorch with torch.autocast("cpu", dtype=torch.bfloat16) around the forward and the loss, its own
recipe for bf16 on a CPU. Under autocast, Linear and Conv2d run in bf16 through oneDNN and give bf16
outputs, so the BatchNorm, ReLU, dropout and pooling between them take and give bf16 too (half the
bytes of this library's fp32 activations); the loss, the gradients of the parameters and the fp32
master weights that Adam updates stay fp32. Each bf16 row is compared with PyTorch's fastest
autocast setting: the same settings as in fp32, each with autocast.

The two systems run alternately within one invocation, model by
model, so a noisy shared machine affects both; compare the ratios, not absolute times across runs.

Also reports the peak memory (max RSS) of training M for two epochs with `train` and with PyTorch
(PyTorch with glibc's malloc defaults, its smaller footprint).
"""
import argparse, gzip, json, os, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "release", "bin")
MODELS = {"S": ([32], False, 0.0), "M": ([256, 128], False, 0.0), "MBD": ([256, 128], True, 0.2),
          "L": ([1024, 1024, 1024], False, 0.0), "CNN": None}


def build_model(name):
    from torch import nn
    if name == "CNN":
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
    hidden, bn, p = MODELS[name]
    layers, width = [], 784
    for h in hidden:
        layers.append(nn.Linear(width, h))
        if bn:
            layers.append(nn.BatchNorm1d(h))
        layers.append(nn.ReLU())
        if p > 0:
            layers.append(nn.Dropout(p))
        width = h
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


def read_idx(path):
    import numpy as np
    with gzip.open(path, "rb") as f:
        data = f.read()
    if int.from_bytes(data[0:4], "big") == 0x803:
        n, rows, cols = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
        return np.frombuffer(data, np.uint8, offset=16).reshape(n, rows * cols)
    return np.frombuffer(data, np.uint8, offset=8)


def worker(args):
    """One PyTorch measurement, in a child process whose thread pools the parent configured."""
    import numpy as np
    import torch
    from torch import nn
    torch.set_num_threads(args.torch_threads)
    torch.set_flush_denormal(args.flush_denormal)
    x = read_idx(os.path.join(args.data, "train-images-idx3-ubyte.gz")).astype(np.float32) / 255
    y = read_idx(os.path.join(args.data, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    x = (x[:50000] - x[:50000].mean()) / x[:50000].std()  # preloaded, standardized
    tx, ty = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y[:50000].copy())
    torch.backends.mkldnn.enabled = not args.no_mkldnn
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    if args.model == "CNN":
        tx = tx.reshape(-1, 1, 28, 28)
    torch.manual_seed(42)
    model = build_model(args.model)
    if args.model == "CNN":
        model = model.to(memory_format=memory_format)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    model.train()

    def step(idx):
        xb = tx[idx]
        if args.model == "CNN":
            xb = xb.contiguous(memory_format=memory_format)
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.autocast_bf16):
            loss = loss_fn(model(xb), ty[idx])
        loss.backward()  # outside autocast, as PyTorch's autocast documentation says
        opt.step()

    if args.screen_steps > 0:  # a few steps instead of epochs, to choose among settings
        perm, steps = torch.randperm(len(tx)), []
        for k in range(5 + args.screen_steps):
            start = time.perf_counter()
            step(perm[(k * 128) % 49920:(k * 128) % 49920 + 128])
            steps.append(time.perf_counter() - start)
        print(json.dumps({"step": statistics.median(steps[5:])}))
        return
    times = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        perm = torch.randperm(len(tx))
        for i in range(0, len(tx), 128):
            step(perm[i:i + 128])
        times.append(time.perf_counter() - start)
    print(json.dumps({"times": times}))


def run_child(cmd, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    out, err = proc.communicate()
    if proc.returncode != 0:
        sys.exit(f"compare_pytorch: {' '.join(cmd)} failed:\n{err}")
    return out


def check_blas():
    """Debian's torch runs its matrix products on whatever libblas.so.3 the system selects: without
    libopenblas0-pthread that is the reference BLAS, about 15 times slower, and every PyTorch time
    (and ratio) would be meaningless. A 1024 x 1024 x 128 product on one thread tells them apart."""
    code = ("import time, torch\n"
            "torch.set_num_threads(1)\n"
            "a, b = torch.randn(1024, 1024), torch.randn(1024, 128)\n"
            "for _ in range(3): a @ b\n"
            "start = time.perf_counter()\n"
            "for _ in range(20): a @ b\n"
            "print(2 * 1024 * 1024 * 128 * 20 / (time.perf_counter() - start) / 1e9)\n")
    gflops = float(run_child([sys.executable, "-c", code], {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}))
    if gflops < 30:
        sys.exit(f"compare_pytorch: PyTorch multiplies matrices at {gflops:.1f} GFLOP/s on one core, so it runs on "
                 "the reference BLAS and its times would be meaningless; install OpenBLAS "
                 "(sudo apt-get install libopenblas0-pthread), or pass --any-blas to measure anyway")
    return gflops


# PyTorch allocates each step's activations and gradients anew and frees them after it. glibc's malloc
# serves blocks of 128 KiB and more with mmap (a threshold it raises, up to 32 MiB, to the largest such
# block freed so far), returns them to the kernel when they are freed, and trims the top of its heap,
# so a step faults part of its pages in again: how much differs from process to process. On the Zen 5
# virtual machine a page fault is slow: PyTorch's CNN step took 0.10-0.23 s at 2 threads with glibc's
# defaults and 0.033-0.034 s with these two settings, M's step 6.1 against 2.1 ms at 1 thread
# (glibc 2.36; docs/performance.md, "The twenty-third round"). PyTorch's performance tuning guide
# recommends a caching allocator (jemalloc, tcmalloc) for the same reason; these two environment
# variables make glibc's malloc keep and reuse what is freed without installing one. 32 MiB is the
# largest mmap threshold mallopt(3) documents on 64-bit systems (older glibc ignores a larger one);
# blocks of that size or more are still mapped and unmapped. (This library allocates its buffers
# once and takes no page fault in a step.)
KEEP_FREED_MEMORY = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 40)}


def pytorch_configs(budget, model, precision="fp32", keep_freed_memory=True):
    if budget == 1:
        pools = [(1, 1, {})]
    else:
        pools = [(1, budget, {}), (budget, 1, {}), (budget, budget, {"OMP_WAIT_POLICY": "PASSIVE"})]
    layouts = [(False, False), (True, False), (False, True), (True, True)] if model == "CNN" else [(False, False)]
    for torch_threads, blas_threads, extra in pools:
        for flush in (True, False):
            for no_mkldnn, channels_last in layouts:
                env = {"OMP_NUM_THREADS": str(blas_threads), "OPENBLAS_NUM_THREADS": str(blas_threads), **extra,
                       **(KEEP_FREED_MEMORY if keep_freed_memory else {})}
                label = f"torch {torch_threads} + OpenBLAS {blas_threads}" + (" passive" if extra else "") + \
                        (", flush-denormal" if flush else "") + (", mkldnn off" if no_mkldnn else "") + \
                        (", channels_last" if channels_last else "") + \
                        (", autocast bf16" if precision == "bf16" else "")
                flags = (["--flush-denormal"] if flush else []) + (["--no-mkldnn"] if no_mkldnn else []) + \
                        (["--channels-last"] if channels_last else []) + \
                        (["--autocast-bf16"] if precision == "bf16" else [])
                yield label, torch_threads, flags, env


def pytorch_command(model, epochs, torch_threads, data, flags, screen_steps=0):
    return [sys.executable, os.path.abspath(__file__), "--worker", "--model", model, "--epochs", str(epochs),
            "--torch-threads", str(torch_threads), "--data", data, "--screen-steps", str(screen_steps)] + flags


def measure_pytorch(model, budget, precision, epochs, data, screen_steps, keep_freed_memory):
    configs = list(pytorch_configs(budget, model, precision, keep_freed_memory))
    if model == "CNN" and screen_steps > 0:  # too slow to time every setting for whole epochs
        screened = []
        for label, torch_threads, flags, env in configs:
            cmd = pytorch_command(model, epochs, torch_threads, data, flags, screen_steps)
            screened.append((json.loads(run_child(cmd, env).strip().splitlines()[-1])["step"], label, torch_threads,
                             flags, env))
        _, label, torch_threads, flags, env = min(screened, key=lambda r: r[0])
        configs = [(label, torch_threads, flags, env)]
    results = []
    for label, torch_threads, flags, env in configs:
        cmd = pytorch_command(model, epochs, torch_threads, data, flags)
        times = json.loads(run_child(cmd, env).strip().splitlines()[-1])["times"]
        results.append((statistics.median(times[1:]), label))
    return min(results)


def measure_ours(model, budget, precision, epochs, data):
    out = run_child([os.path.join(BIN, "bench_training"), "--models", model, "--threads", str(budget),
                     "--epochs", str(epochs), "--precision", precision, "--data", data])
    row, switches = None, 0
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == model and row is None:
            # of the (fp32) GEMM peak from the two rates, not the table's rounded percentage
            row = float(f[2]), float(f[4]), 100.0 * float(f[4]) / float(f[5])
        elif f[:2] == ["thread", "governor:"]:  # "thread governor: 3 comparisons, 1 switches, ending on ..."
            switches = int(f[4])
    if row is None:
        sys.exit("compare_pytorch: unexpected bench_training output:\n" + out)
    return row + (switches,)


def max_rss_mib(cmd, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        sys.exit(f"compare_pytorch: {' '.join(cmd)} failed")
    return usage.ru_maxrss / 1024.0


# Issue 14's targets: the CNN's epoch >= 5x as fast as PyTorch's, the fp32 training step of M and L at
# >= 85% of the GEMM peak and the CNN's at >= 60%, on every core budget measured, and L's step >= 1.6x as
# fast with bf16 products as with fp32. A bf16 row's speed-up is against PyTorch in bf16 (autocast).
SPEEDUP_TARGETS = {"CNN": 5.0}
OF_PEAK_TARGETS = {"M": 85.0, "L": 85.0, "CNN": 60.0}
BF16_TARGETS = {"L": 1.6}


def print_targets(rows):
    lines = []
    epochs = {(model, budget, precision): (ours, switches) for model, budget, precision, ours, _, _, switches in rows}
    for model, budget, precision, ours, theirs, peak, switches in rows:
        cores = f"{budget} core{'s' if budget != 1 else ' '}"
        # A step target judges steps on `budget` threads: not a run whose thread governor moved them
        # (another program took a core). The epoch against PyTorch's is judged as it ran.
        moved = (f"no verdict (the thread governor switched the thread count {switches} time"
                 f"{'s' if switches != 1 else ''}: other work took a core)")
        if model in SPEEDUP_TARGETS:
            want, ratio = SPEEDUP_TARGETS[model], round(theirs / ours, 2)  # judged as printed
            verdict = "met" if ratio >= want else (f"missed by {want - ratio:.2f}x (this library's epoch would "
                                                   f"have to take {theirs / want:.3f} s)")
            against = "PyTorch's speed" if precision == "fp32" else "PyTorch's speed in bf16"
            lines.append(f"  {model:4} {cores} {precision} {ratio:.2f}x {against}, target {want:.0f}x: {verdict}")
        if model in OF_PEAK_TARGETS and precision == "fp32" and switches > 0:
            lines.append(f"  {model:4} {cores} fp32 step: {moved}")
        elif model in OF_PEAK_TARGETS and precision == "fp32":
            want, peak = OF_PEAK_TARGETS[model], round(peak, 1)  # judged as printed
            verdict = "met" if peak >= want else (f"missed by {want - peak:.1f} points (bench_training "
                                                  f"--models {model} --threads {budget} --breakdown says where "
                                                  f"the step's time goes)")
            lines.append(f"  {model:4} {cores} fp32 step at {peak:.1f}% of the GEMM peak, target {want:.0f}%: "
                         f"{verdict}")
        fp32, fp32_switches = epochs.get((model, budget, "fp32"), (None, 0))
        if model in BF16_TARGETS and precision == "bf16" and fp32 is not None and (switches or fp32_switches):
            lines.append(f"  {model:4} {cores} bf16 epoch: no verdict (the thread governor switched the thread count "
                         f"in the {'bf16' if switches else 'fp32'} run: other work took a core)")
        elif model in BF16_TARGETS and precision == "bf16" and fp32 is not None:
            want, ratio = BF16_TARGETS[model], round(fp32 / ours, 2)  # judged as printed
            verdict = "met" if ratio >= want else (f"missed by {want - ratio:.2f}x (bench_training --models {model} "
                                                   f"--threads {budget} --precision fp32,bf16 --breakdown "
                                                   f"measures the two side by side)")
            lines.append(f"  {model:4} {cores} bf16 epoch {ratio:.2f}x as fast as fp32, target {want}x: {verdict}")
    if lines:
        print("\ntargets (issue 14; docs/performance.md says why they are missed):")
        print("\n".join(lines), flush=True)


def main():
    ap = argparse.ArgumentParser(
        description="This library's training epochs against PyTorch's, side by side (docs/performance.md)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    # The worker's flags: the driver passes them to the child process that times one PyTorch setting.
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model", default="M", help=argparse.SUPPRESS)
    ap.add_argument("--torch-threads", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--flush-denormal", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--no-mkldnn", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--channels-last", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--autocast-bf16", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--screen-steps", type=int, default=30,
                    help="CNN: steps per PyTorch setting when choosing the fastest (0: time every setting)")
    ap.add_argument("--models", default="S,M,MBD,L",
                    help="S, M, MBD (M + BatchNorm + dropout 0.2), L, CNN (the study's), comma-separated")
    ap.add_argument("--budgets", default="1,2", help="cores each system may use, comma-separated")
    ap.add_argument("--precisions", default="fp32",
                    help="fp32, bf16 or both (fp32,bf16): the matrix products of both systems; bf16 runs PyTorch "
                         "under torch.autocast(\"cpu\", dtype=torch.bfloat16)")
    ap.add_argument("--epochs", type=int, default=6, help="per measurement, the first is a warm-up")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist", help="FashionMNIST folder")
    ap.add_argument("--skip-memory", action="store_true", help="do not measure the peak memory of training M")
    ap.add_argument("--pytorch-malloc-defaults", action="store_true",
                    help="time PyTorch with glibc's malloc defaults, which hand freed blocks back to the kernel; "
                         "by default PyTorch runs with MALLOC_MMAP_THRESHOLD_=33554432 and "
                         "MALLOC_TRIM_THRESHOLD_=1099511627776, so that freed memory is reused (MALLOC_* "
                         "variables already in the environment are passed on either way)")
    ap.add_argument("--any-blas", action="store_true",
                    help="measure even when PyTorch's matrix products are as slow as the reference BLAS's")
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    # Usage errors exit with status 2 (argparse's, as the library's programs), before anything is measured:
    # the flags, then what the run needs (the data, bench_training, PyTorch).
    precisions = args.precisions.split(",")
    bad = [p for p in precisions if p not in ("fp32", "bf16")]
    if bad:
        ap.error(f"--precisions: unknown precision '{bad[0]}' (fp32 or bf16)")
    models = args.models.split(",")
    bad = [m for m in models if m not in MODELS]
    if bad:
        ap.error(f"--models: unknown model '{bad[0]}' ({', '.join(MODELS)})")
    cores = os.cpu_count() or 1  # as bench_training counts them
    budgets = []
    for b in args.budgets.split(","):
        if not (b.isascii() and b.isdigit()) or not 1 <= int(b) <= cores:
            ap.error(f"--budgets expects core counts from 1 to {cores} separated by commas, but got '{args.budgets}'")
        budgets.append(int(b))
    if not 2 <= args.epochs <= 1000:
        ap.error(f"--epochs has to be from 2 to 1000 (the first is a warm-up), but got {args.epochs}")
    if args.screen_steps < 0:
        ap.error(f"--screen-steps has to be 0 or more, but got {args.screen_steps}")
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        if not os.path.isfile(os.path.join(args.data, name)):
            ap.error(f"--data: no {name} in '{args.data}' (FashionMNIST's folder: sudo apt-get install "
                     "dataset-fashion-mnist)")
    bench = os.path.join(BIN, "bench_training")
    if not os.access(bench, os.X_OK):
        ap.error(f"{bench} is missing: build it first (cmake --workflow --preset release)")
    if subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode != 0:
        ap.error(f"PyTorch cannot be imported by {sys.executable}: install Debian's (sudo apt-get install "
                 "python3-torch) and run this script with /usr/bin/python3")
    if not args.any_blas:
        print(f"PyTorch's BLAS: {check_blas():.0f} GFLOP/s on one core (1024 x 1024 x 128)", flush=True)

    rows = []
    print("PyTorch's malloc: " + ("glibc's defaults" if args.pytorch_malloc_defaults else
                                  " ".join(f"{k}={v}" for k, v in KEEP_FREED_MEMORY.items()) +
                                  " (freed memory reused)"), flush=True)
    print(f"{'model':5} {'cores':>5} {'precision':>9} {'mlp s/epoch':>12} {'PyTorch s/epoch':>16} {'ratio':>6}  "
          f"{'mlp GFLOP/s':>11} {'of GEMM peak':>12}  fastest PyTorch setting", flush=True)
    for model in models:
        for budget in budgets:
            for precision in precisions:
                ours, gflops, peak, switches = measure_ours(model, budget, precision, args.epochs, args.data)
                theirs, label = measure_pytorch(model, budget, precision, args.epochs, args.data, args.screen_steps,
                                                not args.pytorch_malloc_defaults)
                rows.append((model, budget, precision, ours, theirs, peak, switches))
                print(f"{model:5} {budget:5} {precision:>9} {ours:12.3f} {theirs:16.3f} {theirs / ours:5.2f}x  "
                      f"{gflops:11.1f} {peak:11.0f}%  {label}", flush=True)
    if "bf16" in precisions:
        print("(of GEMM peak: against the fp32 GEMM peak in bf16 rows too)", flush=True)
    print_targets(rows)
    if not args.skip_memory:
        import tempfile
        with tempfile.TemporaryDirectory() as out:
            ours = max_rss_mib([os.path.join(BIN, "train"), "--epochs", "2", "--quiet", "--data", args.data,
                                "--out", out])
        theirs = max_rss_mib(pytorch_command("M", 2, 1, args.data, []),
                             {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
        print(f"\npeak memory training M on FashionMNIST: mlp `train` {ours:.0f} MiB, PyTorch {theirs:.0f} MiB")


if __name__ == "__main__":
    main()
