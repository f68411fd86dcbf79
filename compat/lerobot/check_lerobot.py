"""Open an armgym-written dataset with lerobot 0.4.4's LeRobotDataset (offline) and
compare every frame with what armgym itself reads. Runs in the lerobot venv.

usage: HF_HUB_OFFLINE=1 python check_lerobot.py DATASET_DIR
"""

from __future__ import annotations

import sys

import numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset


def main(root: str) -> int:
    exp = np.load(root + ".expected.npz")
    ds = LeRobotDataset("armgym/compat-sample", root=root)
    print(f"[compat] {root}: features {sorted(ds.meta.features)}")
    # the physics state is bookkeeping for replay, not a policy input LeRobot would normalise
    inputs = [k for k in ds.meta.features if k.startswith("observation.")]
    assert not [k for k in inputs if "sim_state" in k], inputs
    n = len(ds)
    assert n == len(exp["action"]), (n, len(exp["action"]))
    assert ds.meta.total_episodes == int(exp["episode_index"].max()) + 1
    worst = 0.0
    for i in range(n):
        item = ds[i]
        np.testing.assert_allclose(
            item["observation.state"].numpy(), exp["observation.state"][i], rtol=0, atol=1e-6
        )
        np.testing.assert_allclose(item["action"].numpy(), exp["action"][i], rtol=0, atol=1e-6)
        assert abs(float(item["timestamp"]) - float(exp["timestamp"][i])) < 1e-6
        assert int(item["episode_index"]) == int(exp["episode_index"][i])
        assert item["task"] == str(exp["task"][i]), (item["task"], exp["task"][i])
        for key in [k for k in exp.files if k.startswith("complementary_info.")]:
            np.testing.assert_allclose(
                item[key].numpy().reshape(-1), np.reshape(exp[key][i], -1), rtol=0, atol=1e-6
            )
        for key in [k for k in exp.files if k.startswith("observation.images.")]:
            img = item[key].numpy().transpose(1, 2, 0) * 255.0
            diff = float(np.abs(img - exp[key][i].astype(np.float64)).mean())
            worst = max(worst, diff)
            assert diff < 2.0, f"{key} frame {i}: mean abs pixel diff {diff:.2f} vs armgym"
    print(
        f"[compat] lerobot {ds.meta.info['codebase_version']} read {n} frames, "
        f"{ds.meta.total_episodes} episodes; worst mean pixel diff vs armgym {worst:.3f}"
    )
    print("[compat] stats keys:", sorted(ds.meta.stats)[:4], "...")
    print("[compat] OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
