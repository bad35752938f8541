"""Our SIP transaction and dialog layer (RFC 3261 §8, §9, §12, §13, §17) on asyncio.

``core.SipCore`` is a pure state machine over message objects (``message``): it never touches a
socket or a clock and returns the actions to carry out; ``transport.SipEndpoint`` carries them
out with one UDP socket and ``loop.call_later``. Chosen over pyVoIP's and aiosipua's dialog
handling after measuring both on the wire (docs/channels/sip.md).
"""
