"""Outbound webhooks: other systems (a CRM, a data warehouse) told of interaction events.

``events`` says which events may be subscribed to and what each delivery carries (pure),
``signing`` signs and checks a delivery (pure), ``addresses`` decides which URLs and addresses
may be called, ``sender`` makes one HTTP attempt, and ``dispatcher`` records deliveries as events
happen and has each subscriber's own worker send and retry them. The deliveries themselves are
kept by ``context.webhooks`` in the database. See docs/webhooks.md.
"""
