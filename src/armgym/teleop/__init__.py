"""armgym.teleop."""
