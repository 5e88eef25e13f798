#!/usr/bin/python3
"""Compares the library's optimizers in float with PyTorch's, bit for bit, over many steps.

Usage: /usr/bin/python3 benchmarks/compare_optimizers_pytorch.py [--bin build/release/bin] [--steps 300] [--size 20000]

For each case, optimizer_trace runs the library's optimizer on a tensor of --size floats with fixed
gradients for --steps steps; PyTorch's optimizer runs on the same tensor and gradients. The table
counts the elements of the weights and of each state buffer whose float32 bits differ, the
largest difference in ulp (large where a value is near zero) and the largest difference relative to
the tensor's largest magnitude. Exit status 0 when the comparison ran (whatever it found), 1 when it
could not run.

Which bits come out depends on whether the compiler fused a product and a sum into a multiply-add:
PyTorch's CPU kernels use FMA (AVX2 and AVX-512), and so does the library's release build
(-march=native). A build for plain x86-64 (the ci preset) differs by a few ulp.
"""
import argparse, pathlib, subprocess, sys, tempfile

try:
    import numpy as np
    import torch
except ImportError as e:
    sys.exit(f"compare_optimizers_pytorch.py: error: {e} (PyTorch is Debian's python3-torch: run /usr/bin/python3)")

CASES = {
    "adam": lambda p: torch.optim.Adam(p, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0),
    "adam-wd": lambda p: torch.optim.Adam(p, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.001, alpha=0.99),
    "rmsprop-centered": lambda p: torch.optim.RMSprop(p, lr=0.001, alpha=0.99, centered=True),
    "rmsprop-momentum": lambda p: torch.optim.RMSprop(p, lr=0.001, alpha=0.99, momentum=0.9),
    "rmsprop-all": lambda p: torch.optim.RMSprop(p, lr=0.001, alpha=0.99, centered=True, momentum=0.9, weight_decay=0.01),
    "adagrad": lambda p: torch.optim.Adagrad(p),
    "adagrad-all": lambda p: torch.optim.Adagrad(p, lr=0.01, lr_decay=0.001, weight_decay=0.01, initial_accumulator_value=0.1),
    "sgd": lambda p: torch.optim.SGD(p, lr=0.01, weight_decay=0.001),
    "sgd-momentum": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9),
    "sgd-nesterov": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.001),
}


def pytorch_run(case, size, steps):
    i = np.arange(size, dtype=np.float64)
    w = torch.tensor(np.sin(0.37 * i).astype(np.float32), requires_grad=True)
    opt = CASES[case]([w])
    for t in range(1, steps + 1):
        w.grad = torch.tensor((np.sin(1.0 + 0.01 * i + 0.7 * t) * np.exp(-0.0003 * i)).astype(np.float32))
        opt.step()
    return w.detach().numpy(), opt.state[w]


def ulp_distance(a, b):
    # float32 bits as a monotonic integer line (negative floats mirrored), so that the distance is in ulp
    def line(x):
        bits = x.view(np.int32).astype(np.int64)
        return np.where(bits < 0, -(bits & 0x7FFFFFFF), bits)
    return np.abs(line(a) - line(b))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default="build/release/bin", help="folder with optimizer_trace")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--size", type=int, default=20000)
    args = parser.parse_args()
    if args.steps < 1 or args.size < 1:
        sys.exit("compare_optimizers_pytorch.py: error: --steps and --size have to be at least 1")
    trace = pathlib.Path(args.bin) / "optimizer_trace"
    if not trace.is_file():
        sys.exit(f"compare_optimizers_pytorch.py: error: {trace} does not exist (cmake --build --preset release)")
    torch.set_num_threads(1)
    print(f"PyTorch {torch.__version__}; {args.size} floats, {args.steps} steps")
    print(f"| case | {'tensor':<18} | elements whose bits differ | largest, in ulp | largest, relative to the tensor's largest value |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            out = pathlib.Path(tmp) / f"{case}.bin"
            run = subprocess.run([str(trace), "--case", case, "--size", str(args.size), "--steps", str(args.steps),
                                  "--out", str(out)], capture_output=True, text=True)
            if run.returncode != 0:
                sys.exit(f"compare_optimizers_pytorch.py: error: {trace} failed: {run.stderr.strip()}")
            names = run.stdout.split()
            ours = np.fromfile(out, dtype=np.float32)
            if ours.size != len(names) * args.size:
                sys.exit(f"compare_optimizers_pytorch.py: error: {out} holds {ours.size} floats, "
                         f"expected {len(names)} x {args.size}")
            w, state = pytorch_run(case, args.size, args.steps)
            for k, name in enumerate(names):
                theirs = w if name == "w" else state[name.split(".", 1)[1]].numpy()
                mine = ours[k * args.size:(k + 1) * args.size]
                theirs = theirs.astype(np.float32)
                d = ulp_distance(mine, theirs)
                scale = float(np.abs(theirs.astype(np.float64)).max()) or 1.0
                rel = float(np.abs(mine.astype(np.float64) - theirs.astype(np.float64)).max()) / scale
                print(f"| {case} | {name:<18} | {np.count_nonzero(d)} | {int(d.max())} | {rel:.1e} |")


if __name__ == "__main__":
    main()
