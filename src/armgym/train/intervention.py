"""The human in the loop of ``armgym train sac --intervene keyboard|spacemouse|gamepad|scripted``.

Three small pieces the SAC loop calls (HIL-SERL, Luo et al. 2024):

* :func:`wrap_env` puts the person (or the scripted human of
  :mod:`armgym.teleop.scripted_human`) on the *training* env through
  ``InterventionWrapper``; evaluation builds its own env and is never intervened.
* :func:`add_transition` stores what was executed (``info["executed_action"]``, the
  device's action while a person drives) in the online buffer, and a transition the
  person drove also in the offline (demo) buffer, which RLPD samples half of each batch
  from.
* The online buffer flags each transition (extra ``is_intervention``, :data:`EXTRAS`) and
  is saved with the run; :func:`restore_interventions` puts the flagged ones back into the
  offline buffer on ``--resume`` (the offline buffer itself is rebuilt from the demos).
* :class:`EpisodeInterventions` counts each episode's intervened steps and takeovers for
  ``log.jsonl``; :func:`plot_intervention_rate` draws them as the curve's third panel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from armgym.contracts.info import EXECUTED_ACTION, INTERVENTION
from armgym.registry import check_choice

if TYPE_CHECKING:
    from armgym.rl import ReplayBuffer
    from armgym.teleop import TeleopDevice
    from armgym.train.sac import SACTrainConfig

#: values of ``--intervene`` ("" = nobody takes over)
INTERVENE = ("keyboard", "spacemouse", "gamepad", "scripted")
#: the online buffer's extra field: whether a person drove the transition
EXTRAS = {"is_intervention": ((), "bool")}


def check_intervene(name: str) -> str:
    """``name`` if it is "" or one of :data:`INTERVENE`, else ``UnknownNameError``."""
    return name if name == "" else check_choice("--intervene", name, INTERVENE)


def wrap_env(cfg: SACTrainConfig, env: Any, device: TeleopDevice | None = None) -> Any:
    """The training env with ``cfg.intervene``'s person able to take over (or ``env``).

    ``scripted`` wraps it in ``ScriptedInterventionWrapper(env, cfg.human, seed=cfg.seed)``;
    a device name opens that device (``device`` replaces it, for tests and for callers
    that hold one already). Devices act in ee_delta; in the ``ee_pos`` env SAC uses, their
    translation and gripper are executed.
    """
    if not check_intervene(cfg.intervene):
        return env
    from armgym.teleop import InterventionWrapper, make_device

    if cfg.intervene == "scripted":
        from armgym.teleop.scripted_human import ScriptedInterventionWrapper

        return ScriptedInterventionWrapper(env, cfg.human, seed=cfg.seed)
    return InterventionWrapper(env, device if device is not None else make_device(cfg.intervene))


def report_evaluation(env: Any, success_rate: float) -> None:
    """Tell a scripted human (the outermost wrapper of ``env``, from :func:`wrap_env`) the
    policy's latest evaluation success; a person at a device watches for themselves."""
    from armgym.teleop.scripted_human import ScriptedInterventionWrapper

    if isinstance(env, ScriptedInterventionWrapper):
        env.observe_evaluation(success_rate)


def add_transition(
    online: ReplayBuffer,
    offline: ReplayBuffer,
    obs: Mapping[str, np.ndarray],
    action: np.ndarray,
    reward: float,
    terminated: bool,
    truncated: bool,
    next_obs: Mapping[str, np.ndarray],
    info: Mapping[str, Any],
) -> bool:
    """Store one env step; return whether a person drove it.

    The stored action is ``info["executed_action"]`` when present (else ``action``); an
    intervened step goes to ``online`` and to ``offline``.
    """
    executed = np.asarray(info.get(EXECUTED_ACTION, action), np.float32)
    human = bool(info.get(INTERVENTION, False))
    online.add(obs, executed, reward, terminated, truncated, next_obs, is_intervention=human)
    if human:
        offline.add(obs, executed, reward, terminated, truncated, next_obs)
    return human


def restore_interventions(online: ReplayBuffer, offline: ReplayBuffer) -> int:
    """Add the transitions of ``online`` flagged ``is_intervention`` to ``offline``, oldest
    first (after ``--resume``); return how many. A buffer without the flag adds none."""
    flags = online.extras.get("is_intervention")
    if flags is None:
        return 0
    n, cap = online.filled, online.capacity
    order = np.arange(n) if n < cap else (np.arange(cap) + online.pos) % cap
    added = 0
    for i in order:
        if not (online.valid[i] and flags[i]):
            continue
        j = (i + 1) % cap
        obs = {k: v[i] for k, v in online.obs.items()}
        nxt = {k: v[j] for k, v in online.obs.items()}
        term = bool(online.terminated[i])
        offline.add(obs, online.action[i], float(online.reward[i]), term, False, nxt)
        added += 1
    return added


class EpisodeInterventions:
    """Per-episode intervention counts, read from each step's ``info``.

    ``add(info)`` once per step; ``pop()`` at the episode's end returns
    ``{"interventions": steps a person drove, "intervention_rate": that / steps,
    "takeovers": times a person took over}`` (``{}`` when no step carried the
    ``intervention`` key, i.e. without ``--intervene``) and starts the next episode.
    """

    def __init__(self) -> None:
        self._clear()

    def _clear(self) -> None:
        self.steps = self.interventions = self.takeovers = 0
        self.seen, self.last = False, False

    def add(self, info: Mapping[str, Any]) -> None:
        self.steps += 1
        if INTERVENTION not in info:
            return
        human = bool(info[INTERVENTION])
        self.seen = True
        self.interventions += int(human)
        self.takeovers += int(human and not self.last)
        self.last = human

    def pop(self) -> dict[str, Any]:
        row: dict[str, Any] = {}
        if self.seen:
            row = {
                "interventions": self.interventions,
                "intervention_rate": self.interventions / max(self.steps, 1),
                "takeovers": self.takeovers,
            }
        self._clear()
        return row


def intervention_curve(rows: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """``(env step at each episode's end, fraction of that episode's steps a person drove)``
    from log.jsonl rows (empty arrays without ``--intervene``)."""
    eps = [r for r in rows if "intervention_rate" in r.get("episode", {})]
    steps = np.array([r["step"] for r in eps], np.int64)
    return steps, np.array([r["episode"]["intervention_rate"] for r in eps], np.float64)


def plot_intervention_rate(ax: Any, rows: Sequence[Mapping[str, Any]], smooth: int = 10) -> bool:
    """Draw each episode's intervention rate and its running mean over ``smooth`` episodes
    on the matplotlib axes ``ax``; False (nothing drawn) without intervention rows."""
    steps, rate = intervention_curve(rows)
    if not len(steps):
        return False
    k = min(smooth, len(rate))
    mean = np.convolve(rate, np.ones(k) / k, mode="valid")
    ax.plot(steps, rate, ".", color="tab:orange", alpha=0.3, label="per episode")
    ax.plot(steps[k - 1 :], mean, "-", color="tab:orange", label=f"mean of {k} episodes")
    ax.set(xlabel="env steps", ylabel="intervened steps / episode steps", ylim=(-0.02, 1.02))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return True
