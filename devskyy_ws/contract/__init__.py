"""The API contract: messages, records, their converter, JSON Schema, OpenAPI/AsyncAPI."""
