"""The GLB builder and validator, without a server."""

from __future__ import annotations

import io
import json
import struct

import pytest
from pygltflib import GLTF2

from devskyy_ws.gltf.build import build_glb, png, shape_for
from devskyy_ws.gltf.check import Limits, check_glb, image_size


def _independent(data: bytes) -> GLTF2:
    return GLTF2.load_from_bytes(data)


@pytest.mark.parametrize(
    ("prompt", "shape"),
    [("Victorian rose ring", "torus"), ("a pearl", "sphere"), ("gift box", "box")],
)
def test_builder_makes_files_another_reader_accepts(prompt: str, shape: str) -> None:
    assert shape_for(prompt) == shape
    data = build_glb(prompt)
    gltf = _independent(data)
    assert gltf.asset.version == "2.0"
    assert gltf.meshes[0].name == shape
    assert gltf.materials[0].pbrMetallicRoughness.baseColorTexture.index == 0
    assert gltf.images[0].mimeType == "image/png"
    report = check_glb(data, Limits())
    assert report.ok, report.errors
    assert 10_000 <= report.triangles <= 50_000 and report.textures == [(512, 512)]


def test_production_quality_has_more_triangles() -> None:
    report = check_glb(build_glb("rose ring", "production"), Limits(max_triangles=200_000))
    assert report.ok and report.triangles > 50_000


def _rebuild(data: bytes, change: dict[str, object]) -> bytes:
    json_len = struct.unpack("<I", data[12:16])[0]
    doc = json.loads(data[20 : 20 + json_len])
    doc.update(change)
    raw = json.dumps(doc).encode()
    raw += b" " * ((4 - len(raw) % 4) % 4)
    rest = data[20 + json_len :]
    body = struct.pack("<II", len(raw), 0x4E4F534A) + raw + rest
    return struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body


GOOD = build_glb("rose ring")


@pytest.mark.parametrize(
    ("data", "limits", "fragment"),
    [
        (b"nope" + GOOD[4:], Limits(), "bad magic"),
        (GOOD[:8] + struct.pack("<I", len(GOOD) + 4) + GOOD[12:], Limits(), "does not match"),
        (GOOD[:12] + struct.pack("<II", 8, 0x4E4F534A) + b"{broken}" + b"", Limits(), "length"),
        (GOOD, Limits(max_triangles=1000), "polygon count"),
        (GOOD, Limits(min_triangles=40_000), "polygon count"),
        (GOOD, Limits(max_bytes=1000), "over the 1000 byte limit"),
        (_rebuild(GOOD, {"images": []}), Limits(), "no textures"),
        (GOOD, Limits(min_texture=1024), "power of two"),
        (b"glTF", Limits(), "too short"),
    ],
)
def test_each_validation_failure_is_reported(data: bytes, limits: Limits, fragment: str) -> None:
    report = check_glb(data, limits)
    assert not report.ok
    assert any(fragment in e for e in report.errors), report.errors


def test_malformed_json_chunk() -> None:
    raw = b"{not json}  "
    body = struct.pack("<II", len(raw), 0x4E4F534A) + raw
    data = struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body
    assert "not well-formed JSON" in check_glb(data, Limits()).errors[0]


def test_non_power_of_two_texture() -> None:
    odd = png(600, 512, [b"\x00" * 1800] * 512)
    assert image_size(odd) == (600, 512)
    json_len = struct.unpack("<I", GOOD[12:16])[0]
    doc = json.loads(GOOD[20 : 20 + json_len])
    doc["images"] = [
        {"uri": "data:image/png;base64," + __import__("base64").b64encode(odd).decode()}
    ]
    raw = json.dumps(doc).encode()
    raw += b" " * ((4 - len(raw) % 4) % 4)
    body = struct.pack("<II", len(raw), 0x4E4F534A) + raw + GOOD[20 + json_len :]
    data = struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body
    errors = check_glb(data, Limits()).errors
    assert any("600x512" in e for e in errors)
    assert io.BytesIO(odd).read(8) == b"\x89PNG\r\n\x1a\n"
