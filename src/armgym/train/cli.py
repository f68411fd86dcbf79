"""``armgym train <algorithm>``: one sub-command per training loop.

armgym train bc --dataset DIR --policy diffusion|mlp --steps N --batch-size B --out CK
armgym train sac --task PickCube --robot panda --obs state --demos 20 --steps 30000 --out DIR
"""

from __future__ import annotations

import sys

import tyro

from armgym.errors import UnknownNameError

ALGORITHMS = {
    "bc": "behaviour cloning: MLP (action chunking) or Diffusion Policy",
    "sac": "online RL: SAC with RLPD demo sampling (state or pixels)",
}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print("usage: armgym train <algorithm> [options]   (armgym train bc --help)\n")
        for name, help_ in ALGORITHMS.items():
            print(f"  {name:<6} {help_}")
        return 0
    algo, rest = args[0], args[1:]
    if algo not in ALGORITHMS:
        raise UnknownNameError("training algorithm", algo, ALGORITHMS)
    if algo == "sac":
        return _sac(rest)
    from armgym.train.bc import BCConfig, train

    cfg = tyro.cli(BCConfig, args=rest, prog="armgym train bc")
    s = train(cfg)
    print(
        f"trained {s['policy']} ({s['policy_params'] / 1e6:.2f} M params) for {s['steps']} "
        f"steps in {s['wall_s']:.0f} s ({s['samples_per_s']:.0f} samples/s); final loss "
        f"{s['final_loss']:.4f}; checkpoint: {s['out']}"
    )
    return 0


def _sac(args: list[str]) -> int:
    from armgym.train.sac import SACTrainConfig, train

    s = train(tyro.cli(SACTrainConfig, args=args, prog="armgym train sac"))
    print(
        f"trained SAC for {s['steps']} env steps ({s['updates']} updates, {s['episodes']} "
        f"episodes) in {s['wall_s']:.0f} s; checkpoint: {s['out']}; curve: {s['curve']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
