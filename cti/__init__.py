"""The contact-center server core: domain types, events, hub, configuration and wiring."""
