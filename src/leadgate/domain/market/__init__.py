"""The lead marketplace's pure core: buyers, their eligibility, weighted selling, ping
tree order, the ping post auction, supplier pre-ping ids, margins and returns.

Everything here is a pure function of its inputs (no database, no HTTP, no clock, no
randomness); the services that load buyers' counters, ping and post to buyers over HTTP
and record sales are not part of this package. See docs/marketplace.md.
"""
