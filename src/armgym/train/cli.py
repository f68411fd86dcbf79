"""``armgym train <algorithm>``: one tyro sub-command per training loop.

armgym train bc --dataset DIR --policy diffusion|mlp --steps N --batch-size B --out CK
armgym train sac --task PickCube --robot panda --obs state --demos 20 --steps 30000 --out DIR
armgym train residual --base CK --task PegInsert --randomization med --algo sac --out DIR

A new loop (``sac``, ``residual``) is one more entry in :data:`ALGORITHMS`: its frozen
config dataclass (the sub-command's options) and the function that trains from it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

import tyro

from armgym.errors import UnknownNameError

#: sub-command -> (module, its frozen config class, its train(cfg) -> summary function)
ALGORITHMS: dict[str, tuple[str, str, str]] = {
    "bc": ("armgym.train.bc", "BCConfig", "train"),
    "sac": ("armgym.train.sac", "SACTrainConfig", "train"),
    "residual": ("armgym.train.residual", "ResidualTrainConfig", "train"),
}


def _bc_summary(s: dict[str, Any]) -> str:
    return (
        f"trained {s['policy']} ({s['policy_params'] / 1e6:.2f} M params) for {s['steps']} "
        f"steps in {s['wall_s']:.0f} s ({s['samples_per_s']:.0f} samples/s); final loss "
        f"{s['final_loss']:.4f}; checkpoint: {s['out']}"
    )


def _sac_summary(s: dict[str, Any]) -> str:
    return (
        f"trained SAC for {s['steps']} env steps ({s['updates']} updates, {s['episodes']} "
        f"episodes) in {s['wall_s']:.0f} s; checkpoint: {s['out']}; curve: {s['curve']}"
    )


def _residual_summary(s: dict[str, Any]) -> str:
    return (
        f"trained a residual ({s['algo']}) over {s['base'].get('path') or s['base'].get('url') or s['base'].get('task')} "
        f"for {s['steps']} env steps ({s['updates']} updates, {s['episodes']} episodes) in "
        f"{s['wall_s']:.0f} s; checkpoint: {s['out']}; curve: {s['curve']}"
    )


SUMMARIES: dict[str, Callable[[dict[str, Any]], str]] = {
    "bc": _bc_summary,
    "sac": _sac_summary,
    "residual": _residual_summary,
}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and not args[0].startswith("-") and args[0] not in ALGORITHMS:
        raise UnknownNameError("training algorithm", args[0], ALGORITHMS)
    modules = {name: importlib.import_module(mod) for name, (mod, _, _) in ALGORITHMS.items()}
    configs = {name: getattr(modules[name], cls) for name, (_, cls, _) in ALGORITHMS.items()}
    cfg = tyro.extras.subcommand_cli_from_dict(configs, prog="armgym train", args=args)
    name = next(n for n, c in configs.items() if isinstance(cfg, c))
    summary = getattr(modules[name], ALGORITHMS[name][2])(cfg)
    print(SUMMARIES[name](summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
