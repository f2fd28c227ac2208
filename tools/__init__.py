"""Command-line tools: simulated exchange, replay, benchmarks, query."""
