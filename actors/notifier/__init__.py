"""Operator alerts through apprise: P0 (someone must look now), P1 (soon), P2 (for the record).

``rules`` turns engine events into P1 alerts; ``fold`` decides which alerts become deliveries (duplicates
folded, each priority rate limited); ``actor`` hands them to ``sender`` threads, one per destination and
priority, so that trading never waits for a notification service; ``targets`` reads each priority's apprise
URLs from the settings and the environment.
"""
