"""``armgym export DIR --out OUT``: convert a LeRobot dataset for other trainers.

``--format rlds``: RLDS TFRecord shards with armgym's keys and actions;
``--format rlds-openvla``: RLDS in the layout CogACT / OpenVLA fine-tuning reads (image,
7-d delta action in metres / Euler radians / gripper 1 = open, ``language_instruction``);
``--format lerobot-libero``: a LeRobot dataset with the keys and action convention of
openpi's LIBERO conversion (``image``, ``wrist_image``, ``state``, ``actions``, task), for
fine-tuning π0 with openpi's own LIBERO config. See :mod:`armgym.apps.policy_export`.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import tyro

from armgym.contracts.observation import STATE_KEY
from armgym.data import lerobot_format as fmt
from armgym.data import rlds
from armgym.data.reader import LeRobotReader
from armgym.errors import DatasetError


@dataclass(frozen=True)
class ExportConfig:
    """Export a LeRobot dataset (v3.0 / v2.1) to RLDS TFRecord shards readable by TFDS."""

    dataset: tyro.conf.Positional[Path]
    """LeRobot dataset folder to read."""
    format: Literal["rlds", "rlds-openvla", "lerobot-libero"] = "rlds"
    """rlds (armgym keys) | rlds-openvla (CogACT/OpenVLA layout) | lerobot-libero (openpi keys)."""
    out: Path = Path("rlds_export")
    """Output folder; RLDS gets `<name>/1.0.0/` (shards, features.json, dataset_info.json),
    lerobot-libero is the dataset folder itself."""
    name: str = "armgym_dataset"
    """TFDS dataset name (lower case, underscores)."""
    episodes_per_shard: int = 100
    """Episodes per TFRecord shard."""
    overwrite: bool = False
    """Replace an existing export at the same place."""


def export(cfg: ExportConfig) -> Path:
    """Run the export; return the folder holding the shards."""
    reader = LeRobotReader(cfg.dataset)
    if "action" not in reader.features:
        raise DatasetError(f"{reader.root / 'meta/info.json'}: no 'action' feature to export.")
    if cfg.episodes_per_shard < 1:
        raise DatasetError("--episodes-per-shard must be >= 1.")
    if cfg.format == "lerobot-libero":
        from armgym.apps.policy_export import export_libero_lerobot

        return export_libero_lerobot(reader, cfg.out, overwrite=cfg.overwrite)
    out = cfg.out / cfg.name / "1.0.0"
    if out.exists():
        if not cfg.overwrite:
            raise DatasetError(f"{out}: already exists; pass --overwrite or choose --out.")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    state_keys = [
        k
        for k in reader.vector_keys
        if k.startswith("observation.") and k != fmt.LEGACY_SIM_STATE_KEY
    ]
    image_keys = list(reader.video_keys)
    convert = _openvla(reader) if cfg.format == "rlds-openvla" else None
    if convert is not None:
        state_keys, image_keys = [STATE_KEY], [f"observation.images.{n}" for n in convert[1]]

    def examples() -> Iterator[rlds.Datum]:
        for k in range(reader.num_episodes):
            ep = reader.episode(k)
            if convert is not None:
                ep = convert[0](ep)
            yield rlds.episode_example(
                ep,
                state_keys=state_keys,
                image_keys=image_keys,
                source=str(reader.root),
                episode_index=k,
            )

    lengths, total = rlds.write_shards(
        out, cfg.name, examples(), reader.num_episodes, cfg.episodes_per_shard
    )
    feats = rlds.features_json(
        {k: int(reader.features[k]["shape"][0]) for k in state_keys},
        {k: convert[1][k.removeprefix("observation.images.")] for k in image_keys}
        if convert is not None
        else {k: list(reader.features[k]["shape"]) for k in image_keys},
        7 if convert is not None else int(reader.features["action"]["shape"][0]),
    )
    rlds.write_metadata(
        out,
        cfg.name,
        feats,
        lengths,
        total,
        f"Exported by armgym from {reader.root} ({reader.num_episodes} episodes, "
        f"{reader.fps:g} Hz).",
    )
    return out


def _openvla(reader: LeRobotReader) -> tuple[Callable[[dict], dict], dict[str, list[int]]]:
    """(episode converter, {image name: [H, W, 3]}) of the OpenVLA layout."""
    from armgym.apps.policy_export import EpisodeMapper, openvla_episode, openvla_mapping

    mapper = EpisodeMapper(reader, openvla_mapping(reader))
    shapes = {i.key[0]: [*i.size, 3] for i in mapper.mapping.images}
    return (lambda ep: openvla_episode(mapper, ep)), shapes


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(ExportConfig, args=sys.argv[1:] if argv is None else argv, prog="armgym export")
    out = export(cfg)
    print(f"wrote {cfg.format} export to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
