"""Gateways: one venue-neutral vocabulary of events (``events``), one adapter package per exchange."""
