"""The engine: one folder per actor kind, shared value types beside them."""
