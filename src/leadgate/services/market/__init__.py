"""Selling leads: the services around the pure core in ``domain/market``.

* ``setup`` / ``settings`` - ``buyers:`` and ``market:`` in the setup file;
* ``ledger`` - buyers' live loads and the atomic sale (caps, budgets, exclusivity);
* ``sell`` - the ``lead.sell`` job: weighted, ping tree and ping post auction;
* ``preping`` - supplier pre-ping quotes and ``ping_id`` on posted leads;
* ``returns`` - buyers' returns, credits, charge-backs, money per lead and rates.

See docs/marketplace.md.
"""
