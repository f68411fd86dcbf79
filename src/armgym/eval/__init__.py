"""armgym.eval."""
