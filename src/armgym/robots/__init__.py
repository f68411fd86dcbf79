"""armgym.robots."""
