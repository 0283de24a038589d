"""Request bodies: the classes the handlers structure into and the schema made from them."""

from __future__ import annotations

from typing import Any

import attrs
import cattrs
import pytest

from devskyy_ws.contract import serde
from devskyy_ws.contract.jsonschema import SchemaSet
from devskyy_ws.contract.requests import (
    REQUEST_BODIES,
    CompetitionRequest,
    EventSubmission,
    Limit,
    PipelineRequest,
    TaskSubmission,
)

PROMPT = "A ceramic vase with a blue glaze"


def refused(doc: dict[str, Any], cls: type[Any]) -> tuple[str, str, dict[str, Any]]:
    with pytest.raises(cattrs.ClassValidationError) as caught:
        serde.structure(doc, cls)
    return serde.refusal(caught.value, cls)


def test_tasks_read_camel_case_and_ignore_keys_they_do_not_know() -> None:
    body = serde.structure(
        {"agentType": "commerce", "prompt": "p", "useRoundTable": True, "priority": 3},
        TaskSubmission,
    )
    assert body == TaskSubmission("commerce", "p", None, True)


@pytest.mark.parametrize(
    ("doc", "code", "field"),
    [
        ({"agentType": "commerce"}, "invalid_field", "prompt"),
        ({"agentType": "commerce", "prompt": 5}, "invalid_field", "prompt"),
        ({"agentType": "commerce", "prompt": ""}, "empty_prompt", "prompt"),
        ({"agentType": "commerce", "prompt": "p", "parameters": [1]}, "invalid_field", "parameters"),
        ({"agentType": "commerce", "prompt": "p", "useRoundTable": "yes"}, "invalid_field",
         "useRoundTable"),
        ({"agentType": ["commerce"], "prompt": "p"}, "invalid_field", "agentType"),
    ],
)  # fmt: skip
def test_a_task_refusal_names_the_field_as_the_client_spelled_it(
    doc: dict[str, Any], code: str, field: str
) -> None:
    got_code, message, details = refused(doc, TaskSubmission)
    assert (got_code, details["field"]) == (code, field)
    assert field in message or code == "empty_prompt"


@pytest.mark.parametrize(
    ("doc", "code"),
    [
        ({"prompt": "x" * 9}, "invalid_prompt"),
        ({"prompt": "x" * 501}, "invalid_prompt"),
        ({"prompt": 12345678901}, "invalid_prompt"),
        ({"prompt": PROMPT, "format": "obj"}, "unsupported_format"),
        ({"prompt": PROMPT, "quality": 1}, "invalid_quality"),
        ({"prompt": PROMPT, "image_url": "ftp://host/x"}, "invalid_image_url"),
        ({"prompt": PROMPT, "image_url": "https://" + "x" * 2001}, "invalid_image_url"),
        ({"prompt": PROMPT, "product_id": 0}, "invalid_product_id"),
        ({"prompt": PROMPT, "product_id": True}, "invalid_product_id"),
        ({"prompt": PROMPT, "product_id": 1.5}, "invalid_product_id"),
    ],
)
def test_pipeline_refusals_keep_their_codes(doc: dict[str, Any], code: str) -> None:
    assert refused(doc, PipelineRequest)[0] == code


def test_pipeline_edges_are_accepted() -> None:
    body = serde.structure(
        {"prompt": "x" * 500, "image_url": "https://" + "x" * 2000, "product_id": 1},
        PipelineRequest,
    )
    assert body.format == "glb" and body.quality == "preview" and body.product_id == 1
    assert serde.structure({"prompt": "x" * 10}, PipelineRequest).prompt == "x" * 10


def test_an_unknown_channel_lists_the_known_ones() -> None:
    code, _, details = refused({"channel": "nope", "message": {}}, EventSubmission)
    assert code == "unknown_channel" and details["field"] == "channel"
    assert "tasks" in details["allowed"]
    assert refused({"channel": "tasks", "message": []}, EventSubmission)[0] == "invalid_message"
    assert refused({"message": {}}, EventSubmission)[0] == "unknown_channel"


def test_a_string_is_not_a_list_of_its_characters() -> None:
    code, message, details = refused({"prompt": "p", "providers": "ab"}, CompetitionRequest)
    assert code == "invalid_field" and details == {"field": "providers"}
    assert "expected a list" in message


def test_a_list_of_the_wrong_items_is_refused() -> None:
    code, message, details = refused({"prompt": "p", "providers": ["a", 1]}, CompetitionRequest)
    assert code == "invalid_field" and details == {"field": "providers"}
    assert "providers" in message


def _limits(cls: type[Any]) -> list[tuple[str, Limit]]:
    return [(f.name, f.validator) for f in attrs.fields(cls) if isinstance(f.validator, Limit)]


@pytest.mark.parametrize("cls", REQUEST_BODIES)
def test_the_schema_states_every_limit_the_code_enforces(cls: type[Any]) -> None:
    schema = SchemaSet("#/").request_body(cls)
    for name, limit in _limits(cls):
        wire = serde.wire_name(cls, name)
        prop = schema["properties"][wire]
        for key, value in limit.schema().items():
            if key == "maxLength":
                assert prop[key] == min(value, 32 * 1024)
            else:
                assert prop[key] == value, (cls.__name__, wire, key)
    required = {
        serde.wire_name(cls, f.name) for f in attrs.fields(cls) if f.default is attrs.NOTHING
    }
    assert set(schema["required"]) == required
    for prop in schema["properties"].values():
        if prop.get("type") in ("string", ["string", "null"]) and "enum" not in prop:
            assert prop["x-max-bytes"] == 32 * 1024 and "bytes of UTF-8" in prop["description"]


def test_a_pattern_in_the_schema_is_anchored_as_the_code_matches() -> None:
    (_, limit), *_ = [(n, v) for n, v in _limits(PipelineRequest) if n == "image_url"]
    assert limit.schema()["pattern"].startswith("^") and limit.schema()["pattern"].endswith("$")
