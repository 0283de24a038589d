"""`json_response`, the one way JSON answers are written."""

from __future__ import annotations

import json

from devskyy_ws.contract.records import ToolInfo
from devskyy_ws.http.responses import json_response


def _doc(response: object) -> object:
    body = getattr(response, "body")  # noqa: B009 - aiohttp types it as a payload
    assert isinstance(body, bytes)
    return json.loads(body)


def test_attrs_objects_go_through_the_converter_with_their_wire_names() -> None:
    tool = ToolInfo(name="t", parameters={"sku": "string"})
    response = json_response([tool], status=201)
    assert response.status == 201 and response.content_type == "application/json"
    assert response.charset == "utf-8"
    assert _doc(response) == [
        {"name": "t", "description": "", "category": "general", "parameters": {"sku": "string"}}
    ]


def test_a_dict_holding_records_converts_them_and_keeps_documents() -> None:
    doc = {"items": [ToolInfo(name="t")], "total": 1, "meta": {"nested": [1, 2]}}
    assert _doc(json_response(doc)) == {
        "items": [{"name": "t", "description": "", "category": "general", "parameters": {}}],
        "total": 1,
        "meta": {"nested": [1, 2]},
    }


def test_serialized_json_is_written_as_it_is() -> None:
    assert json_response('{"a":1}').body == b'{"a":1}'
    assert json_response(b"[1]", headers={"X-Test": "1"}).headers["X-Test"] == "1"
