"""armgym.data."""
