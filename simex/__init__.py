"""simex: a simulated Binance USDⓈ-M futures exchange on loopback (REST + WebSocket), for tests and drills.

Independent of the engine (it imports nothing from ``actors``) so that the two sides cannot share a bug.
"""

from simex.config import SimConfig
from simex.server import SimExchange

__all__ = ["SimConfig", "SimExchange"]
