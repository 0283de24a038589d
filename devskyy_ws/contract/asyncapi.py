"""AsyncAPI 3 for the channels, built from the message registry: what each channel
sends, what a client may send, and the close codes."""

from __future__ import annotations

from typing import Any

from ..channels.protocol import SNAPSHOT_ALIASES
from ..version import __version__
from . import messages as m
from .jsonschema import SchemaSet
from .messages import CHANNEL_MESSAGES, CHANNELS, type_name

__all__ = ["CLIENT_MESSAGES", "CLOSE_CODES", "asyncapi_document"]

CLIENT_MESSAGES: dict[str, dict[str, Any]] = {
    "ping": {"type": "object", "properties": {"type": {"const": "ping"}}, "required": ["type"]},
    "subscribe": {
        "type": "object",
        "properties": {
            "type": {"const": "subscribe"},
            "conflate": {"type": "boolean"},
            "filters": {
                "type": "object",
                "maxProperties": 16,
                "additionalProperties": {
                    "anyOf": [
                        {"type": ["string", "number", "boolean"]},
                        {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 256,
                            "items": {"type": ["string", "number", "boolean"]},
                        },
                    ]
                },
            },
        },
        "required": ["type"],
        "description": (
            "No filters, or {}, means every message of the channel. conflate: true (or "
            "?conflate=1 on the URL) asks for the latest state per key instead of every "
            "message while the socket is behind (docs/protocol.md)."
        ),
    },
    "unsubscribe": {
        "type": "object",
        "properties": {"type": {"const": "unsubscribe"}},
        "required": ["type"],
    },
    "resume": {
        "type": "object",
        "properties": {
            "type": {"const": "resume"},
            "since": {"type": "integer", "minimum": 0},
            "epoch": {"type": "string"},
        },
        "required": ["type", "since"],
    },
    "snapshot": {
        "type": "object",
        "properties": {"type": {"enum": ["snapshot", *SNAPSHOT_ALIASES]}},
        "required": ["type"],
        "description": (
            "The channel's state now; get_agents, get_tasks, get_competitions, get_pipelines "
            "and get_metrics (the DevSkyy frontend's names) mean the same."
        ),
    },
    "auth": {
        "type": "object",
        "properties": {"type": {"const": "auth"}, "token": {"type": "string"}},
        "required": ["type", "token"],
    },
}

CLOSE_CODES = {
    "1001": "server shutting down",
    "1007": "invalid UTF-8 text",
    "1009": "message over 65,536 bytes",
    "4001": "authentication required, invalid or expired token",
    "4004": "Invalid channel name",
    "4008": "slow consumer",
}


def asyncapi_document() -> dict[str, Any]:
    s = SchemaSet("#/components/schemas/")
    per_connection = (
        m.Pong,
        m.Keepalive,
        m.Subscribed,
        m.Unsubscribed,
        m.Authenticated,
        m.Conflated,
        m.ResyncRequired,
        m.Snapshot,
    )
    messages: dict[str, Any] = {}
    for cls in [*{c for v in CHANNEL_MESSAGES.values() for c in v}, *per_connection]:
        name = type_name(cls)
        messages[name] = {
            "name": name,
            "title": cls.__name__,
            "contentType": "application/json",
            "payload": s.ref(cls),
            "summary": (cls.__doc__ or name).strip().splitlines()[0],
        }
    for name, schema in CLIENT_MESSAGES.items():
        s.schemas[f"Client{name.title()}"] = schema
        messages[f"client_{name}"] = {
            "name": name,
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/Client{name.title()}"},
        }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for channel in CHANNELS:
        server_msgs = [type_name(c) for c in CHANNEL_MESSAGES[channel]] + [
            type_name(c) for c in per_connection
        ]
        client_msgs = [f"client_{n}" for n in CLIENT_MESSAGES]
        channels[channel] = {
            "address": f"/api/ws/{channel}",
            "description": (
                f"Updates on {channel}, also served at /ws/{channel}. A keepalive follows "
                "--keepalive seconds (default 25) of silence; "
                "protocol pings find dead peers. Close codes are listed in x-close-codes."
            ),
            "messages": {
                n: {"$ref": f"#/components/messages/{n}"} for n in server_msgs + client_msgs
            },
            "x-close-codes": CLOSE_CODES,
        }
        operations[f"receive_{channel}"] = {
            "action": "send",
            "summary": f"The server sends {channel} updates and answers",
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [{"$ref": f"#/channels/{channel}/messages/{n}"} for n in server_msgs],
        }
        operations[f"client_{channel}"] = {
            "action": "receive",
            "summary": "What a client may send",
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [{"$ref": f"#/channels/{channel}/messages/{n}"} for n in client_msgs],
        }
    _publish_channel(s.schemas, messages, channels, operations)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "devskyy_ws channels",
            "version": __version__,
            "description": (
                "Real-time channels. Published messages carry seq and epoch (docs/protocol.md)."
            ),
        },
        "servers": {
            "local": {
                "host": "127.0.0.1:8000",
                "protocol": "ws",
                "description": "Development server",
            }
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": s.schemas, "messages": messages},
    }


_EVENT = {
    "type": "object",
    "properties": {
        "id": {"type": ["string", "integer"], "description": "echoed in the answer"},
        "channel": {"type": "string", "enum": list(CHANNELS)},
        "message": {"type": "object", "description": "a message the channel sends"},
    },
    "required": ["channel", "message"],
}
PUBLISH_MESSAGES: dict[str, dict[str, Any]] = {
    "PublishEvent": _EVENT,
    "PublishBatch": {
        "type": "object",
        "properties": {
            "id": {"type": ["string", "integer"]},
            "events": {"type": "array", "minItems": 1, "maxItems": 1000, "items": _EVENT},
        },
        "required": ["events"],
    },
    "PublishAck": {
        "type": "object",
        "properties": {
            "type": {"const": "ack"},
            "id": {"type": ["string", "integer", "null"]},
            "seq": {"type": "array", "items": {"type": ["integer", "null"]}},
        },
        "required": ["type", "id", "seq"],
    },
    "PublishNack": {
        "type": "object",
        "properties": {
            "type": {"const": "nack"},
            "id": {"type": ["string", "integer", "null"]},
            "error": {"type": "string"},
            "message": {"type": "string"},
            "details": {},
        },
        "required": ["type", "id", "error", "message"],
    },
}


def _publish_channel(
    schemas: dict[str, Any],
    messages: dict[str, Any],
    channels: dict[str, Any],
    operations: dict[str, Any],
) -> None:
    """Producers' socket: events in, acks and nacks out, in order."""
    for name, schema in PUBLISH_MESSAGES.items():
        schemas[name] = schema
        messages[name] = {
            "name": name,
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{name}"},
        }
    channels["publish"] = {
        "address": "/api/ws/publish",
        "description": (
            "For producers: a token with the publish scope (Authorization or ?token=), else "
            "close 4001. Each event or batch (validated as POST /api/v1/events) is answered "
            "in order with an ack carrying the seqs, or a nack; the next message is read "
            "once the last is published, and over --publish-rate the socket waits."
        ),
        "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in PUBLISH_MESSAGES},
        "x-close-codes": {"4001": CLOSE_CODES["4001"]},
    }
    operations["publish_events"] = {
        "action": "receive",
        "summary": "A producer publishes events",
        "channel": {"$ref": "#/channels/publish"},
        "messages": [
            {"$ref": f"#/channels/publish/messages/{n}"} for n in ("PublishEvent", "PublishBatch")
        ],
    }
    operations["publish_answers"] = {
        "action": "send",
        "summary": "The server acknowledges or refuses each, in order",
        "channel": {"$ref": "#/channels/publish"},
        "messages": [
            {"$ref": f"#/channels/publish/messages/{n}"} for n in ("PublishAck", "PublishNack")
        ],
    }
