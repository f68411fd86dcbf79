"""armgym.envs."""
