"""oms actor: see docs/architecture.md.

The pure core (no threads, no I/O, no clock: time comes in as ns):

* ``order``     one order: statuses, the transition table, ``apply``
* ``book``      our orders for one symbol and their exposure per side (the pre-trade check's input)
* ``diff``      desired quotes vs live orders → a plan, cancels first, within limits
* ``budget``    order/cancel rate windows, safety cancels never refused, minimum order lifetime
* ``ids``       client order ids unique across restarts
* ``reconcile`` open orders, fills since the cursor, position vs the exchange
* ``position``  position, PnL and fees from fills; the ledger that counts each fill once
* ``messages``  commands to the gateway, its answers, what the OMS publishes
* ``core``      one pure handler per message, returning what to persist, send and publish
"""
