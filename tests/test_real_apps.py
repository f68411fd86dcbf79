"""Real-robot configs, ``armgym robot-check`` and ``armgym robot-server --real-config``,
end to end on the fake SO-101 bus (and a recorded video as the camera)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from armgym.apps.robot_server import RobotServerConfig, build_robot
from armgym.cli import main as armgym_main
from armgym.errors import ConfigError, UnknownNameError
from armgym.robots.real.config import (
    RealRobotConfig,
    driver_for,
    load_real_config,
    make_real_robot,
)
from armgym.robots.remote import RemoteRobot
from armgym.robots.specs import ROBOTS
from armgym.serve.robot_server import RobotServer
from tests._real import so101_setup, wait_for

pytest.importorskip("serial")
cv2 = pytest.importorskip("cv2")

SPEC = ROBOTS.get("so101")


def _video(path):
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (32, 24))
    for _ in range(5):
        out.write(np.full((24, 32, 3), 90, np.uint8))
    out.release()
    return path


@pytest.fixture
def arm_json(tmp_path):
    bus, cfg = so101_setup(tmp_path, np.asarray(SPEC.home_qpos) + 0.1)
    path = tmp_path / "arm.json"
    path.write_text(json.dumps({
        "robot": "so101", "port": cfg.port, "calibration": str(cfg.calibration),
        "cameras": [f"front={_video(tmp_path / 'front.avi')}"], "image_size": [24, 32],
        "control_hz": 25.0, "safety": {"max_joint_vel": 3.0},
    }))  # fmt: skip
    yield path, bus
    bus.close()


def test_config_file_and_driver_choice(arm_json, tmp_path):
    path, _ = arm_json
    cfg = load_real_config(path)
    assert cfg.safety.max_joint_vel == 3.0 and cfg.image_size == (24, 32)
    assert driver_for(cfg) == "feetech"
    assert driver_for(RealRobotConfig(robot="vx300")) == "interbotix"
    assert driver_for(RealRobotConfig(robot="panda")) == "serl_http"
    with pytest.raises(ConfigError, match="drives"):
        driver_for(RealRobotConfig(robot="panda", driver="feetech"))
    with pytest.raises(UnknownNameError, match="so101"):
        driver_for(RealRobotConfig(robot="so10"))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"robot": "so101", "baud": 9600}))
    with pytest.raises(ConfigError, match=r"unknown keys \['baud'\]"):
        load_real_config(bad)
    with pytest.raises(ConfigError, match="needs --calibration"):
        make_real_robot(RealRobotConfig(robot="so101", port="/dev/null"))
    with pytest.raises(ConfigError, match="NAME=SOURCE"):
        make_real_robot(RealRobotConfig(robot="so101", cameras=("front",)))


def test_robot_check_cli_moves_home_and_reports(arm_json, tmp_path, capsys):
    path, _bus = arm_json
    out = tmp_path / "report.json"
    rc = armgym_main(["robot-check", "--real-config", str(path), "--move-home", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "shoulder_pan" in text and "OK" in text
    report = json.loads(out.read_text())
    assert report["ok"] and report["moved_home"]
    assert max(abs(j["error"]) for j in report["joints"]) < 0.05
    # without moving, the arm is 0.1 rad off home in every joint: reported, not judged
    rc = armgym_main(["robot-check", "--real-config", str(path), "--out", str(out)])
    assert rc == 0 and json.loads(out.read_text())["tcp_offset_from_home_m"] < 0.01


def test_robot_server_serves_the_real_arm_and_its_watchdog_holds_it(arm_json):
    path, bus = arm_json
    server = RobotServer(build_robot(RobotServerConfig(real_config=path)), port=0)
    server.watchdog_s = 0.3
    try:
        with server.run_in_thread() as t, RemoteRobot(t.url) as robot:
            assert robot.robot_name == "so101" and robot.action_space.shape == (7,)
            obs = robot.reset()
            assert obs["images.front"].shape == (24, 32, 3)
            np.testing.assert_allclose(obs["joint_pos"], SPEC.home_qpos, atol=0.03)
            robot.act(np.array([1, 0, 0, 0, 0, 0, 1], np.float32))
            wait_for(lambda: any(e["event"] == "hold" for e in server.events), what="a hold")
            for i in range(1, 6):  # held: every goal = the present position
                s = bus.servo(i)
                wait_for(lambda s=s: abs(
                    int.from_bytes(s.read(56, 2), "little") - s.get("Goal_Position")) <= 2,
                    what=f"servo {i} to settle")  # fmt: skip
    finally:
        server.robot.close()
