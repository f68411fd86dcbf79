"""Online RL building blocks: replay buffers and demonstration loading (used by ``train.sac``)."""

from armgym.rl.buffer import ReplayBuffer
from armgym.rl.demos import fill_from_dataset, fill_from_scripted

__all__ = ["ReplayBuffer", "fill_from_dataset", "fill_from_scripted"]
