"""armgym.train."""
