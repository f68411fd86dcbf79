"""armgym.tasks."""
