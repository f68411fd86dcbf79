"""Clear errors when MuJoCo Warp, torch or a GPU is missing; armgym's kernel cache folder."""

from __future__ import annotations

import sys

import pytest

from armgym.envs.warp import WarpUnavailableError, require_warp, resolve_device
from armgym.envs.warp.backend import CACHE_ENV, cache_dir
from armgym.errors import ConfigError


@pytest.mark.parametrize("module", ["warp", "mujoco_warp"])
def test_missing_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import <module>` fail
    with pytest.raises(WarpUnavailableError, match=r"pip install 'armgym\[warp\]'") as err:
        require_warp()
    assert isinstance(err.value, ConfigError)


def test_env_construction_fails_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    from armgym.envs.warp import WarpBatchedEnv

    monkeypatch.setitem(sys.modules, "mujoco_warp", None)
    with pytest.raises(WarpUnavailableError, match="MuJoCo Warp"):
        WarpBatchedEnv("PickCube", 2, device="cpu")


def test_missing_gpu_and_unknown_device_are_explained() -> None:
    import mujoco_warp  # noqa: F401  (armgym[warp]: make test installs it)

    wp, _ = require_warp()
    assert resolve_device("cpu") == "cpu"
    if wp.get_cuda_device_count() == 0:
        with pytest.raises(WarpUnavailableError, match="use device='cpu'"):
            resolve_device("cuda")
        assert resolve_device("auto") == "cpu"
    with pytest.raises(WarpUnavailableError, match="unknown warp device 'tpu'"):
        resolve_device("tpu")


def test_kernel_cache_lives_under_armgym_cache(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv(CACHE_ENV, raising=False)
    assert cache_dir().parts[-3:] == (".cache", "armgym", "warp")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert cache_dir() == tmp_path
    import mujoco_warp  # noqa: F401  (armgym[warp]: make test installs it)

    monkeypatch.delenv(CACHE_ENV)
    wp, _ = require_warp()
    assert str(wp.config.kernel_cache_dir).startswith(str(cache_dir()))
