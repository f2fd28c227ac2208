"""risk actor: see docs/architecture.md."""
