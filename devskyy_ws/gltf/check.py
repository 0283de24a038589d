"""Validation of a GLB by actually parsing it: header, chunks, JSON, triangles, textures.

Pure: give it bytes and limits, get a report with every problem found (not just the
first), so a failed pipeline can list all its reasons.
"""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

import attrs

__all__ = ["GlbReport", "Limits", "check_glb", "image_size"]


@attrs.frozen
class Limits:
    min_triangles: int = 10_000
    max_triangles: int = 50_000
    min_texture: int = 512
    max_texture: int = 4096
    max_bytes: int = 100 * 1024 * 1024


@attrs.define
class GlbReport:
    size_bytes: int
    triangles: int = 0
    textures: list[tuple[int, int]] = attrs.Factory(list)
    errors: list[str] = attrs.Factory(list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "size_bytes": self.size_bytes,
            "triangles": self.triangles,
            "textures": [{"width": w, "height": h} for w, h in self.textures],
            "errors": list(self.errors),
        }


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG or JPEG, read from its header."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack("!II", data[16:24])
        return int(width), int(height)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            length = struct.unpack("!H", data[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack("!HH", data[i + 5 : i + 9])
                return int(width), int(height)
            i += 2 + length
    return None


def _triangles(doc: dict[str, Any]) -> int:
    accessors = doc.get("accessors", [])
    total = 0
    for mesh in doc.get("meshes", []):
        for primitive in mesh.get("primitives", []):
            mode = primitive.get("mode", 4)
            if "indices" in primitive:
                count = int(accessors[primitive["indices"]]["count"])
            else:
                count = int(accessors[primitive["attributes"]["POSITION"]]["count"])
            if mode == 4:
                total += count // 3
            elif mode in (5, 6):
                total += max(0, count - 2)
    return total


def _image_bytes(doc: dict[str, Any], image: dict[str, Any], binary: bytes) -> bytes | None:
    if "bufferView" in image:
        view = doc["bufferViews"][image["bufferView"]]
        start = int(view.get("byteOffset", 0))
        return binary[start : start + int(view["byteLength"])]
    uri = image.get("uri", "")
    if isinstance(uri, str) and uri.startswith("data:") and "," in uri:
        return base64.b64decode(uri.split(",", 1)[1], validate=False)
    return None


def check_glb(data: bytes, limits: Limits) -> GlbReport:
    """Every problem with the file, or none."""
    report = GlbReport(size_bytes=len(data))
    if len(data) > limits.max_bytes:
        report.errors.append(f"file is {len(data)} bytes, over the {limits.max_bytes} byte limit")
        return report
    if len(data) < 20:
        report.errors.append("file is too short to be a GLB")
        return report
    magic, version, length = struct.unpack("<III", data[:12])
    if magic != 0x46546C67:
        report.errors.append("not a GLB: bad magic (expected 'glTF')")
        return report
    if version != 2:
        report.errors.append(f"unsupported glTF version {version} (expected 2)")
    if length != len(data):
        report.errors.append(f"header length {length} does not match file size {len(data)}")
        return report
    json_len, json_type = struct.unpack("<II", data[12:20])
    if json_type != 0x4E4F534A or 20 + json_len > len(data):
        report.errors.append("first chunk is not a valid JSON chunk")
        return report
    try:
        doc = json.loads(data[20 : 20 + json_len])
    except (ValueError, UnicodeDecodeError):
        report.errors.append("JSON chunk is not well-formed JSON")
        return report
    if not isinstance(doc, dict) or doc.get("asset", {}).get("version") != "2.0":
        report.errors.append("JSON chunk lacks asset.version 2.0")
        return report
    binary = b""
    offset = 20 + json_len
    if offset + 8 <= len(data):
        bin_len, bin_type = struct.unpack("<II", data[offset : offset + 8])
        if bin_type != 0x004E4942 or offset + 8 + bin_len > len(data):
            report.errors.append("second chunk is not a valid BIN chunk")
            return report
        binary = data[offset + 8 : offset + 8 + bin_len]
    try:
        report.triangles = _triangles(doc)
        for image in doc.get("images", []):
            raw = _image_bytes(doc, image, binary)
            size = image_size(raw) if raw is not None else None
            if size is None:
                report.errors.append("a texture image is missing or not a PNG/JPEG")
                continue
            report.textures.append(size)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        report.errors.append(f"broken references in the glTF JSON ({type(exc).__name__})")
        return report
    if not limits.min_triangles <= report.triangles <= limits.max_triangles:
        report.errors.append(
            f"polygon count {report.triangles} is outside "
            f"{limits.min_triangles}-{limits.max_triangles}"
        )
    if not report.textures:
        report.errors.append("no textures: a textured PBR material is required")
    for width, height in report.textures:
        for side in (width, height):
            if side & (side - 1) or not limits.min_texture <= side <= limits.max_texture:
                report.errors.append(
                    f"texture {width}x{height} must be a power of two from "
                    f"{limits.min_texture} to {limits.max_texture}"
                )
                break
    return report
