"""Web chat: the widget page and the visitor WebSocket."""
