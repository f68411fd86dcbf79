"""armgym.policies."""
