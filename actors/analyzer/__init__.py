"""analyzer actor: see docs/architecture.md."""
