#!/usr/bin/python3
"""The study's baseline protocol (EXPERIMENTS.md) in PyTorch, as an accuracy reference.

Usage: /usr/bin/python3 benchmarks/pytorch_baseline.py [--seeds 1,2,3] [--data DIR]

784-256-128-10 ReLU, He-uniform weights and zero biases, Adam 1e-3, batch 128 reshuffled every
epoch, 30 epochs, a stratified 50,000 / 10,000 split (1,000 validation images per class), pixels
standardized with the training split's mean and standard deviation; the epoch with the lowest
validation loss is evaluated on the test set. Prints one line per seed.
"""
import argparse, gzip, os, time
import numpy as np
import torch
from torch import nn

def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    if magic == 0x803:
        n, rows, cols = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
        return np.frombuffer(data, np.uint8, offset=16).reshape(n, rows * cols)
    n = int.from_bytes(data[4:8], "big")
    return np.frombuffer(data, np.uint8, offset=8)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--epochs", type=int, default=30)
    args = ap.parse_args()
    torch.set_num_threads(1)
    x = read_idx(os.path.join(args.data, "train-images-idx3-ubyte.gz")).astype(np.float32) / 255
    y = read_idx(os.path.join(args.data, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    xt = read_idx(os.path.join(args.data, "t10k-images-idx3-ubyte.gz")).astype(np.float32) / 255
    yt = read_idx(os.path.join(args.data, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    for seed in [int(s) for s in args.seeds.split(",")]:
        rng = np.random.default_rng(seed)
        val = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:1000] for c in range(10)])
        train = np.setdiff1d(np.arange(len(y)), val)
        mean, std = x[train].mean(), x[train].std()
        tx = torch.from_numpy((x[train] - mean) / std); ty = torch.from_numpy(y[train])
        vx = torch.from_numpy((x[val] - mean) / std); vy = torch.from_numpy(y[val])
        sx = torch.from_numpy((xt - mean) / std); sy = torch.from_numpy(yt)
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
        for m in model:
            if isinstance(m, nn.Linear):
                nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = nn.CrossEntropyLoss()
        best = (float("inf"), None, 0)
        start = time.time()
        for epoch in range(1, args.epochs + 1):
            model.train()
            perm = torch.randperm(len(tx))
            for i in range(0, len(tx), 128):
                idx = perm[i:i + 128]
                opt.zero_grad()
                loss_fn(model(tx[idx]), ty[idx]).backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                vloss = loss_fn(model(vx), vy).item()
            if vloss < best[0]:
                best = (vloss, {k: v.clone() for k, v in model.state_dict().items()}, epoch)
        model.load_state_dict(best[1])
        with torch.no_grad():
            logits = model(sx)
            acc = (logits.argmax(1) == sy).float().mean().item()
            tloss = loss_fn(logits, sy).item()
        print(f"seed {seed}: best epoch {best[2]}, val loss {best[0]:.4f}, test loss {tloss:.4f}, "
              f"test accuracy {100 * acc:.2f}% ({time.time() - start:.0f} s)", flush=True)

if __name__ == "__main__":
    main()
