"""Plain request handlers, one module per REST section plus `ws.py` for the channels."""
