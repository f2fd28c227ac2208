"""oms actor: see docs/architecture.md."""
