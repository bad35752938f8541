"""Routing: who gets which waiting interaction, applied atomically to shared state.

Modules, by role::

    policy.py         pure decisions: urgency, decide (the full sort, the reference), explain
    ranking.py        RoutingIndex: the same decisions from per-class FIFOs, fed change by change
    open_agents.py    the free agents kept ranked between passes, and one pass's lazy view (private)
    pool.py           the per-decision agent index behind decide, and the slots both use (private)
    eligibility.py    the one definition of "can this agent take this item now"
    engine.py         RoutingEngine: expire, tick, decide, try_offers; background loop
    memory_store.py   MemoryRoutingStore: one node
    redis_store.py    RedisRoutingStore: many nodes (redis_scripts.py: its Lua and change log;
                      redis_batch.py: pipelined script calls; codec.py: its records and
                      script arguments; errors.py: RoutingDataError)
    records.py        input checks and load view shared by both stores
    stats.py          QueueStats, the same from both stores

Errors raised (from ``cti.errors`` unless named, with stable ids)::

    NotFound   agent-not-found, offer-not-found, interaction-not-waiting
    Conflict   interaction-offered, offer-not-yours, work-not-yours
    InvalidInput  bad-service-target, bad-priority, bad-enqueued-at
    RoutingDataError (router.errors)  routing-record-unreadable, routing-arguments-unreadable

Only the composition root imports this package; everything else uses ``cti.routing``.
"""
