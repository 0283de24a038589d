"""Channels: the hub, its frames and filters, the socket protocol, the brokers."""
