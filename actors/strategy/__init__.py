"""Strategy: states what it wants quoted (a ``QuoteTarget``); the OMS decides what to send."""
