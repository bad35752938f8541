"""The Asterisk bridge: the AMI link, the pure call tracker, and the glue to interactions.

    frames.py    AMI frames to messages (pure, tolerant of frames run together)
    signals.py   the call facts the tracker reports
    tracker.py   folds AMI events into channels, bridges and calls (pure)
    link.py      the AMI connection on panoramisk: log-in, keep-alive, reconnect, resync
    bridge.py    tracker signals to interaction steps, offers to Originate, call control
"""
