"""The page an RL training run ends with: ``index.html`` in the run folder, the layout of
``armgym eval`` and ``armgym demo`` (:mod:`armgym.viz.run_report`): headline facts, the
learning curve of ``log.jsonl`` with its intervals and, when clips are asked for, a grid of
rollout clips of the final policy (successes and failures, labelled with seed and
outcome) with its per-seed table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from armgym.viz.run_report import RunPage, eval_page, write_run_page


def finish_page(
    out: Path,
    title: str,
    facts: Sequence[tuple[str, str]],
    *,
    clips: int,
    seed: int,
    api_key: str | None = None,
) -> Path:
    """Write ``out/index.html`` for the checkpoint in ``out``; return its path.

    ``clips`` > 0 first evaluates the saved policy on ``clips`` more episodes (seeds
    ``seed`` …, ``armgym eval``'s rollout, report in ``out/eval``) and records each as a
    clip. A failure there (no renderer, a served base gone) leaves a page without clips and
    says why on it, rather than failing a finished training run.
    """
    log = Path(out) / "log.jsonl"
    if clips > 0:
        from armgym.eval.cli import EvalConfig, evaluate

        try:
            report = evaluate(
                EvalConfig(
                    checkpoint=out,
                    episodes=clips,
                    videos=clips,
                    seed=seed,
                    num_envs=1,
                    out=Path(out) / "eval",
                    api_key=api_key,
                    progress=False,
                )
            )
        except Exception as exc:  # the run itself is done and saved: report, do not fail
            facts = [*facts, ("clips", f"not recorded: {type(exc).__name__}: {exc}")]
        else:
            return write_run_page(out, eval_page(report, title, facts=list(facts), log=log))
    return write_run_page(out, RunPage(title, facts=list(facts), log=log))


__all__ = ["finish_page"]
