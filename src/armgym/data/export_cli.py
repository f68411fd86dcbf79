"""``armgym export DIR --out OUT``: convert a LeRobot dataset to RLDS (TFRecord shards)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import tyro

from armgym.data import lerobot_format as fmt
from armgym.data import rlds
from armgym.data.reader import LeRobotReader
from armgym.errors import DatasetError


@dataclass(frozen=True)
class ExportConfig:
    """Export a LeRobot dataset (v3.0 / v2.1) to RLDS TFRecord shards readable by TFDS."""

    dataset: tyro.conf.Positional[Path]
    """LeRobot dataset folder to read."""
    format: Literal["rlds"] = "rlds"
    """Export format (RLDS: TFRecord shards of tf.train.Example, as TFDS writes them)."""
    out: Path = Path("rlds_export")
    """Output folder; gets `<name>/1.0.0/` with shards, features.json, dataset_info.json."""
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

    def examples() -> Iterator[rlds.Datum]:
        for k in range(reader.num_episodes):
            ep = reader.episode(k)
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
        {k: list(reader.features[k]["shape"]) for k in image_keys},
        int(reader.features["action"]["shape"][0]),
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


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(ExportConfig, args=sys.argv[1:] if argv is None else argv, prog="armgym export")
    out = export(cfg)
    print(f"wrote RLDS export to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
