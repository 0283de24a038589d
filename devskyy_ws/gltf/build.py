"""A real glTF 2.0 binary (.glb) built from a prompt, with no outside libraries.

The offline generator's output: a ring (torus), a sphere or a box, with a PBR
material and an embedded PNG texture, so a fresh install produces an asset any glTF
viewer opens. Pure functions; run them in a thread, they take a fraction of a second.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import zlib
from array import array

__all__ = ["build_glb", "png", "shape_for"]

GLB_MAGIC = 0x46546C67
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942

# quality -> (u segments, v segments): triangles = 2 * u * v
SEGMENTS = {"preview": (128, 64), "production": (256, 160)}

_COLOURS = {
    "rose": (0.78, 0.16, 0.28),
    "red": (0.8, 0.1, 0.1),
    "gold": (1.0, 0.77, 0.34),
    "silver": (0.91, 0.91, 0.92),
    "black": (0.05, 0.05, 0.06),
    "white": (0.95, 0.95, 0.95),
    "blue": (0.15, 0.3, 0.8),
    "green": (0.15, 0.6, 0.3),
    "pearl": (0.94, 0.92, 0.86),
}
_METALS = ("gold", "silver", "platinum", "metal", "steel", "chrome", "brass")


def shape_for(prompt: str) -> str:
    text = prompt.lower()
    if any(w in text for w in ("ring", "band", "bracelet", "hoop", "torus", "donut")):
        return "torus"
    if any(w in text for w in ("sphere", "pearl", "ball", "orb", "globe", "bead")):
        return "sphere"
    return "box"


def png(width: int, height: int, rows: list[bytes]) -> bytes:
    """Encode RGB rows (each width*3 bytes) as a PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack("!I", len(data)) + kind + data + struct.pack("!I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + row for row in rows)
    header = struct.pack("!IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def _texture(seed: bytes, colour: tuple[float, float, float], size: int = 512) -> bytes:
    """Diagonal bands in the prompt's colour, varied by the prompt's hash."""
    r, g, b = (int(c * 255) for c in colour)
    period = 16 + seed[0] % 48
    band = bytearray()
    for x in range(size * 2):
        shade = 0.65 + 0.35 * (0.5 + 0.5 * math.sin(2 * math.pi * x / period))
        band += bytes((int(r * shade), int(g * shade), int(b * shade)))
    rows = [bytes(band[(y % size) * 3 : (y % size) * 3 + size * 3]) for y in range(size)]
    return png(size, size, rows)


def _torus(u: int, v: int) -> tuple[array[float], array[float], array[float], array[int]]:
    major, minor = 1.0, 0.25
    pos, nrm, uv, idx = array("f"), array("f"), array("f"), array("I")
    for i in range(u + 1):
        a = 2 * math.pi * i / u
        ca, sa = math.cos(a), math.sin(a)
        for j in range(v + 1):
            bb = 2 * math.pi * j / v
            cb, sb = math.cos(bb), math.sin(bb)
            pos.extend(((major + minor * cb) * ca, minor * sb, (major + minor * cb) * sa))
            nrm.extend((cb * ca, sb, cb * sa))
            uv.extend((i / u, j / v))
    _grid_indices(idx, u, v)
    return pos, nrm, uv, idx


def _sphere(u: int, v: int) -> tuple[array[float], array[float], array[float], array[int]]:
    pos, nrm, uv, idx = array("f"), array("f"), array("f"), array("I")
    for i in range(u + 1):
        a = 2 * math.pi * i / u
        for j in range(v + 1):
            bb = math.pi * j / v
            x, y, z = math.sin(bb) * math.cos(a), math.cos(bb), math.sin(bb) * math.sin(a)
            pos.extend((x, y, z))
            nrm.extend((x, y, z))
            uv.extend((i / u, j / v))
    _grid_indices(idx, u, v)
    return pos, nrm, uv, idx


def _box(u: int, v: int) -> tuple[array[float], array[float], array[float], array[int]]:
    """Six subdivided faces; the grid size gives the same triangle budget as the others."""
    n = max(2, int(math.sqrt(u * v / 3)))
    pos, nrm, uv, idx = array("f"), array("f"), array("f"), array("I")
    faces = [
        ((1, 0, 0), (0, 0, -1), (0, 1, 0)),
        ((-1, 0, 0), (0, 0, 1), (0, 1, 0)),
        ((0, 1, 0), (1, 0, 0), (0, 0, -1)),
        ((0, -1, 0), (1, 0, 0), (0, 0, 1)),
        ((0, 0, 1), (1, 0, 0), (0, 1, 0)),
        ((0, 0, -1), (-1, 0, 0), (0, 1, 0)),
    ]
    for normal, right, up in faces:
        base = len(pos) // 3
        for i in range(n + 1):
            for j in range(n + 1):
                s, t = i / n * 2 - 1, j / n * 2 - 1
                pos.extend(normal[k] + right[k] * s + up[k] * t for k in range(3))
                nrm.extend(normal)
                uv.extend((i / n, j / n))
        for i in range(n):
            for j in range(n):
                a = base + i * (n + 1) + j
                b2 = a + n + 1
                idx.extend((a, b2, a + 1, a + 1, b2, b2 + 1))
    return pos, nrm, uv, idx


def _grid_indices(idx: array[int], u: int, v: int) -> None:
    for i in range(u):
        for j in range(v):
            a = i * (v + 1) + j
            b = a + v + 1
            idx.extend((a, b, a + 1, a + 1, b, b + 1))


def _pad(data: bytes, fill: bytes) -> bytes:
    return data + fill * ((4 - len(data) % 4) % 4)


def build_glb(prompt: str, quality: str = "preview") -> bytes:
    """The GLB for a prompt: shape, colour and metalness come from its words."""
    u, v = SEGMENTS.get(quality, SEGMENTS["preview"])
    shape = shape_for(prompt)
    pos, nrm, uv, idx = {"torus": _torus, "sphere": _sphere, "box": _box}[shape](u, v)
    text = prompt.lower()
    colour = next((c for name, c in _COLOURS.items() if name in text), (0.7, 0.7, 0.75))
    metallic = 1.0 if any(m in text for m in _METALS) else 0.1
    seed = hashlib.sha256(prompt.encode()).digest()
    texture = _texture(seed, colour)

    blobs = [pos.tobytes(), nrm.tobytes(), uv.tobytes(), idx.tobytes(), texture]
    views, offset, binary = [], 0, b""
    for blob in blobs:
        views.append({"buffer": 0, "byteOffset": offset, "byteLength": len(blob)})
        padded = _pad(blob, b"\x00")
        binary += padded
        offset += len(padded)
    views[0]["target"] = views[1]["target"] = views[2]["target"] = 34962
    views[3]["target"] = 34963
    count = len(pos) // 3
    xs, ys, zs = pos[0::3], pos[1::3], pos[2::3]
    doc = {
        "asset": {"version": "2.0", "generator": "devskyy_ws offline generator"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": shape}],
        "meshes": [
            {
                "name": shape,
                "primitives": [
                    {
                        "attributes": {"POSITION": 0, "NORMAL": 1, "TEXCOORD_0": 2},
                        "indices": 3,
                        "material": 0,
                        "mode": 4,
                    }
                ],
            }
        ],
        "accessors": [
            {
                "bufferView": 0,
                "componentType": 5126,
                "count": count,
                "type": "VEC3",
                "min": [min(xs), min(ys), min(zs)],
                "max": [max(xs), max(ys), max(zs)],
            },
            {"bufferView": 1, "componentType": 5126, "count": count, "type": "VEC3"},
            {"bufferView": 2, "componentType": 5126, "count": count, "type": "VEC2"},
            {"bufferView": 3, "componentType": 5125, "count": len(idx), "type": "SCALAR"},
        ],
        "materials": [
            {
                "name": "devskyy-pbr",
                "pbrMetallicRoughness": {
                    "baseColorTexture": {"index": 0},
                    "baseColorFactor": [*colour, 1.0],
                    "metallicFactor": metallic,
                    "roughnessFactor": 0.35,
                },
            }
        ],
        "textures": [{"sampler": 0, "source": 0}],
        "samplers": [{"magFilter": 9729, "minFilter": 9987, "wrapS": 10497, "wrapT": 10497}],
        "images": [{"bufferView": 4, "mimeType": "image/png"}],
        "bufferViews": views,
        "buffers": [{"byteLength": len(binary)}],
        "extras": {"prompt": prompt[:500], "quality": quality},
    }
    json_chunk = _pad(json.dumps(doc, separators=(",", ":")).encode(), b" ")
    total = 12 + 8 + len(json_chunk) + 8 + len(binary)
    return b"".join(
        (
            struct.pack("<III", GLB_MAGIC, 2, total),
            struct.pack("<II", len(json_chunk), CHUNK_JSON),
            json_chunk,
            struct.pack("<II", len(binary), CHUNK_BIN),
            binary,
        )
    )
