"""Training and inference images/s of every registered baseline at its native input size.

Plans GPU budgets: run it on the machine you will train on. On CUDA it uses channels_last
and mixed precision, as `benchmark run` does; on CPU, float32.

    .venv/bin/python benchmarks/baseline_throughput.py [--models resnet18 lotko_cnn] [--batch-size 8] [--steps 3]
"""

from __future__ import annotations

import argparse
import time

import torch

from benchmark.models.io import default_device
from benchmark.models.registry import MODELS, ModelInputs

DEFAULT_SIZE = 224  # for recipes that take the task's size


def _time(step, steps: int, device: torch.device) -> float:
    step()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / steps


def measure(name: str, batch_size: int, steps: int, device: torch.device) -> tuple[int, int, float, float]:
    spec = MODELS.get(name)
    size = spec.recipe.image_size or DEFAULT_SIZE
    model = spec.build(ModelInputs(3, spec.recipe.in_chans, size)).to(device)
    x = torch.randn(batch_size, spec.recipe.in_chans, size, size, device=device)
    y = torch.randint(0, 3, (batch_size,), device=device)
    if device.type == "cuda":
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    amp = device.type == "cuda"

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, enabled=amp):
            loss = torch.nn.functional.cross_entropy(model(x).float(), y)
        loss.backward()
        optimizer.step()

    @torch.no_grad()
    def infer_step() -> None:
        with torch.autocast(device.type, enabled=amp):
            model(x)

    model.train()
    train_seconds = _time(train_step, steps, device)
    model.eval()
    infer_seconds = _time(infer_step, steps, device)
    parameters = sum(p.numel() for p in model.parameters())
    return size, parameters, batch_size / train_seconds, batch_size / infer_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=None, help="default: every registered model")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    device = default_device()
    print(f"device {device}, batch {args.batch_size}, {torch.get_num_threads()} threads")
    print(f"{'model':<18} {'input':>6} {'parameters':>12} {'train img/s':>12} {'infer img/s':>12}")
    for name in args.models or MODELS.names():
        size, parameters, train, infer = measure(name, args.batch_size, args.steps, device)
        print(f"{name:<18} {size:>6} {parameters:>12,} {train:>12.1f} {infer:>12.1f}")


if __name__ == "__main__":
    main()
