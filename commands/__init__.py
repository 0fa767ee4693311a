"""Command models and handlers (application services), and the composition root."""
