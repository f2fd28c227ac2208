"""Supervision, after Erlang/OTP: trees as data, restart strategies, restart intensity, heartbeats.

pykka has no supervision of its own: a failure surfaces through ``on_failure`` (not for ``on_start``), a
stopped actor cannot be restarted, and queued tells die with it. So a restart is a new actor and re-wired
references (``actors.peers``), and after any restart the OMS reconciles with the exchange before quoting.
"""
