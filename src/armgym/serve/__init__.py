"""armgym.serve."""
