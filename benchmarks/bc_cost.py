"""Size and CPU cost of the BC policies (PickCube state obs, default configs).

    python benchmarks/bc_cost.py              # ~1-2 min

Per policy and torch thread count (1, 2): parameters, one training step (forward + backward
+ AdamW) at batch 64, and one inference (a whole action chunk; diffusion = 10 DDIM steps)
at batch 1 and 8; median of repeated timings on synthetic inputs. Writes
benchmarks/results/bc_cost.json.
"""

from __future__ import annotations

import statistics
import time

import torch
from common import machine_info, write_json

from armgym.policies.diffusion import DiffusionConfig, DiffusionModel
from armgym.policies.mlp import MLPConfig, MLPModel

SHAPES = {"observation.state": (22,), "observation.environment_state": (7,)}


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def batch(b: int, horizon: int = 16) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    out = {k: torch.randn(b, 2, s[0], generator=g) for k, s in SHAPES.items()}
    out["action"] = torch.rand(b, horizon, 7, generator=g) * 2 - 1
    out["action_is_pad"] = torch.zeros(b, horizon, dtype=torch.bool)
    return out


def measure(name: str, model: torch.nn.Module, repeats: int) -> dict:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    train_batch = batch(64)
    gen = torch.Generator().manual_seed(0)

    def step() -> None:
        loss = model.compute_loss(train_batch, gen)
        opt.zero_grad()
        loss.backward()
        opt.step()

    row = {"policy": name, "params": sum(p.numel() for p in model.parameters()),
           "threads": torch.get_num_threads()}  # fmt: skip
    model.train()
    row["train_step_ms_b64"] = median_ms(step, repeats)
    row["train_samples_per_s"] = 64e3 / row["train_step_ms_b64"]
    model.eval()
    for b in (1, 8):
        obs = {k: v for k, v in batch(b).items() if k in SHAPES}
        gens = [torch.Generator().manual_seed(i) for i in range(b)]
        row[f"infer_ms_b{b}"] = median_ms(lambda o=obs, g=gens: model.predict(o, g), repeats)
    return row


def main() -> None:
    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        for name, model, repeats in (
            ("mlp", MLPModel(MLPConfig(), SHAPES, 7), 50),
            ("diffusion", DiffusionModel(DiffusionConfig(), SHAPES, 7), 10),
        ):
            rows.append(measure(name, model, repeats))
            print(rows[-1])
    path = write_json("bc_cost.json", {"machine": machine_info(("armgym", "torch")), "rows": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
