"""``armgym train <algorithm>``: one tyro sub-command per training loop.

armgym train bc --dataset DIR --policy diffusion|mlp --steps N --batch-size B --out CK
armgym train sac --task PickCube --robot panda --obs state --demos 20 --steps 30000 --out DIR
armgym train reward-classifier --dataset DIR [--dataset DIR2 ...] --out CK
armgym train sac ... --intervene keyboard|spacemouse|gamepad|scripted   (human in the loop)
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
    "reward-classifier": (
        "armgym.train.reward_classifier",
        "RewardClassifierTrainConfig",
        "train",
    ),
    "residual": ("armgym.train.residual", "ResidualTrainConfig", "train"),
}


def _bc_summary(s: dict[str, Any]) -> str:
    return (
        f"trained {s['policy']} ({s['policy_params'] / 1e6:.2f} M params) for {s['steps']} "
        f"steps in {s['wall_s']:.0f} s ({s['samples_per_s']:.0f} samples/s); final loss "
        f"{s['final_loss']:.4f}; checkpoint: {s['out']}"
    )


def _sac_summary(s: dict[str, Any]) -> str:
    text = (
        f"trained SAC for {s['steps']} env steps ({s['updates']} updates, {s['episodes']} "
        f"episodes) in {s['wall_s']:.0f} s; checkpoint: {s['out']}; curve: {s['curve']}"
    )
    if "actors" in s:
        a = s["actors"]
        text += (
            f"; {a['n']} actors: {a['env_steps_per_s']:.0f} env steps/s, "
            f"{a['updates_per_s']:.0f} updates/s, {a['replaced']} actor replaced, "
            f"{a['dropped']} transitions dropped"
        )
    return text


def _classifier_summary(s: dict[str, Any]) -> str:
    t = s["test"]
    return (
        f"trained a reward classifier for {s['steps']} steps in {s['wall_s']:.0f} s; held-out "
        f"test episodes ({t['episodes']}, {t['frames']} frames): accuracy {t['accuracy']:.3f}, "
        f"precision {t['precision']:.3f}, recall {t['recall']:.3f} at threshold "
        f"{s['threshold']:.3f}; checkpoint: {s['out']}; report: {s['out']}/report.json"
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
    "reward-classifier": _classifier_summary,
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
