"""Checks of the Asterisk configuration in ``asterisk-config/`` (lint and the bridge's contracts)."""
