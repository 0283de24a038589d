"""REST request bodies: what each POST accepts, as attrs classes.

Handlers structure bodies into these with the one converter, and the OpenAPI document
generates its request bodies from them (contract/jsonschema.py), so a limit is written
once and the schema cannot disagree with the code. Keys a class does not name are
ignored, so clients may send more than a server version knows. Rules that need a
service (does the agent exist, is the prompt safe) stay in the services.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from .jsoncheck import MAX_TEXT_BYTES
from .messages import CHANNELS

__all__ = [
    "MAX_BATCH",
    "MAX_SEARCH_CHARS",
    "REQUEST_BODIES",
    "SEARCH_WINDOW",
    "CompetitionRequest",
    "EventSubmission",
    "ExecuteRequest",
    "FieldRefused",
    "ImageTo3DRequest",
    "Limit",
    "PipelineRequest",
    "TaskSubmission",
    "TextTo3DRequest",
    "field_code",
]

PIPELINE_PROMPT_CHARS = (10, 500)
MAX_BATCH = 1000  # events in one POST /api/v1/events
MAX_SEARCH_CHARS = 200  # `q` of the task list
SEARCH_WINDOW = 10_000
"""A text search reads at most this many of the newest matching records: a search costs
the same at 100,000 tasks as at 10,000, and finds what an operator is looking for."""


class FieldRefused(ValueError):
    """A field's value is outside its documented limits; `code` is the contract's error."""

    def __init__(
        self, code: str, field: str, message: str, allowed: tuple[str, ...] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.allowed = allowed


@attrs.frozen
class Limit:
    """An attrs validator that also states itself as JSON Schema keywords."""

    code: str
    message: str
    min_length: int | None = None
    max_length: int | None = None
    choices: tuple[str, ...] | None = None
    minimum: int | None = None
    pattern: str | None = None

    def __call__(self, _: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None or self.allows(value):
            return
        raise FieldRefused(self.code, attribute.name, self.message, self.choices)

    def allows(self, value: Any) -> bool:
        if isinstance(value, str):
            if self.min_length is not None and len(value) < self.min_length:
                return False
            if self.max_length is not None and len(value) > self.max_length:
                return False
            if self.pattern is not None and not re.fullmatch(self.pattern, value):
                return False
        if self.choices is not None and value not in self.choices:
            return False
        return self.minimum is None or value >= self.minimum

    def schema(self) -> dict[str, Any]:
        facts = {
            "minLength": self.min_length,
            "maxLength": self.max_length,
            "enum": list(self.choices) if self.choices is not None else None,
            "minimum": self.minimum,
            "pattern": f"^(?:{self.pattern})$" if self.pattern else None,
        }
        return {k: v for k, v in facts.items() if v is not None}


def _field(code: str = "invalid_field", limit: Limit | None = None, **kwargs: Any) -> Any:
    """A request field; `code` is the error for a missing or mistyped value."""
    return attrs.field(validator=limit, metadata={"error": code}, **kwargs)


def field_code(cls: type[Any], name: str) -> str:
    """The contract's error code for a missing or mistyped field of `cls`."""
    field = attrs.fields_dict(cls).get(name)
    return field.metadata.get("error", "invalid_field") if field is not None else "invalid_field"


@attrs.frozen
class TaskSubmission:
    """`POST /api/v1/tasks` (camelCase keys, as the API document shows)."""

    agent_type: str
    prompt: str = _field(limit=Limit("empty_prompt", "The prompt must not be empty.", 1))
    parameters: dict[str, Any] | None = None
    use_round_table: bool | None = None


@attrs.frozen
class ExecuteRequest:
    """`POST /api/v1/agents/{agent_type}/execute`."""

    task: str = _field(limit=Limit("empty_prompt", "The task must not be empty.", 1))
    parameters: dict[str, Any] | None = None
    use_round_table: bool | None = None


@attrs.frozen
class CompetitionRequest:
    """`POST /api/v1/round-table/compete`."""

    prompt: str = _field(limit=Limit("empty_prompt", "The prompt must not be empty.", 1))
    task_id: str | None = None
    providers: list[str] | None = None


@attrs.frozen
class PipelineRequest:
    """`POST /api/v1/3d-pipeline` (snake_case, like its channel)."""

    prompt: str = _field(
        "invalid_prompt",
        Limit("invalid_prompt", "The prompt must be 10 to 500 characters.", *PIPELINE_PROMPT_CHARS),
    )
    format: str = _field(
        "unsupported_format",
        Limit("unsupported_format", "The format is not supported; use glb.", choices=("glb",)),
        default="glb",
    )
    quality: str = _field(
        "invalid_quality",
        Limit(
            "invalid_quality",
            "Quality must be preview or production.",
            choices=("preview", "production"),
        ),
        default="preview",
    )
    image_url: str | None = _field(
        "invalid_image_url",
        Limit(
            "invalid_image_url", "image_url must be an http(s) URL.", pattern=r"https?://\S{1,2000}"
        ),
        default=None,
    )
    product_id: int | None = _field(
        "invalid_product_id",
        Limit("invalid_product_id", "product_id must be a positive integer.", minimum=1),
        default=None,
    )


@attrs.frozen
class EventSubmission:
    """`POST /api/v1/events`: the message is checked against its channel's types later."""

    channel: str = attrs.field(
        validator=Limit("unknown_channel", "Unknown channel.", choices=CHANNELS),
        metadata={"error": "unknown_channel"},
    )
    message: dict[str, Any] = attrs.field(metadata={"error": "invalid_message"})


THREE_D_QUALITIES = ("draft", "standard", "high", "preview", "production")


def _three_d_quality() -> Any:
    return _field(
        "invalid_quality",
        Limit(
            "invalid_quality", "Quality must be draft, standard or high.", choices=THREE_D_QUALITIES
        ),
        default="standard",
    )


@attrs.frozen
class TextTo3DRequest:
    """`POST /api/v1/3d/generate/text`, the original frontend's route to the pipeline."""

    prompt: str = _field(
        "invalid_prompt",
        Limit("invalid_prompt", "The prompt must be 10 to 500 characters.", *PIPELINE_PROMPT_CHARS),
    )
    provider: str | None = None
    quality: str = _three_d_quality()


@attrs.frozen
class ImageTo3DRequest:
    """`POST /api/v1/3d/generate/image`."""

    image_url: str = _field(
        "invalid_image_url",
        Limit(
            "invalid_image_url", "image_url must be an http(s) URL.", pattern=r"https?://\S{1,2000}"
        ),
    )
    provider: str | None = None
    quality: str = _three_d_quality()


REQUEST_BODIES: tuple[type[Any], ...] = (
    TaskSubmission,
    ExecuteRequest,
    CompetitionRequest,
    PipelineRequest,
    EventSubmission,
    TextTo3DRequest,
    ImageTo3DRequest,
)
CAMEL_CASE_REQUESTS: tuple[type[Any], ...] = (TaskSubmission,)
TEXT_LIMIT_NOTE = (
    f"At most {MAX_TEXT_BYTES:,} bytes of UTF-8 (413 over it); maxLength counts characters, "
    "so text outside ASCII meets the byte limit first. Every string in a request body has "
    "the same byte limit."
)
