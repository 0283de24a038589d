"""The `[pipeline]` section of the providers file: which generator and uploader the 3D
pipeline uses, and the limits a produced GLB must meet. Offline and local by default.

```toml
[pipeline]
generator = "tripo3d"          # or "offline"
uploader = "wordpress"         # or "local"
wordpress_url = "https://shop.example.com"
wordpress_user = "pipeline"
max_file_mb = 100
```
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from .. import tomlfile
from ..gltf.check import Limits
from ..providers.three_d import Generator, LocalStorage, OfflineGenerator, Uploader
from ..providers.tripo3d import TripoClient
from ..providers.wordpress import WordPressUploader

__all__ = ["PipelineConfig", "PipelineSection", "load_pipeline_config"]


@attrs.frozen(kw_only=True)
class PipelineSection:
    generator: str = attrs.field(
        default="offline", validator=attrs.validators.in_(("offline", "tripo3d"))
    )
    uploader: str = attrs.field(
        default="local", validator=attrs.validators.in_(("local", "wordpress"))
    )
    max_concurrent: int = 2
    max_file_mb: float = 100.0
    preview_min_triangles: int = 10_000
    preview_max_triangles: int = 50_000
    production_min_triangles: int = 10_000
    production_max_triangles: int = 200_000
    tripo_base_url: str = "https://api.tripo3d.ai/v2/openapi"
    tripo_api_key_env: str = "TRIPO_API_KEY"
    poll_interval: float = 2.0
    deadline: float = 600.0
    max_retries: int = 3
    backoff_base: float = 0.5
    wordpress_url: str | None = None
    wordpress_user: str | None = None
    wordpress_app_password_env: str = "WP_APP_PASSWORD"  # noqa: S105 - a variable name

    @property
    def max_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    def limits(self) -> dict[str, Limits]:
        return {
            "preview": Limits(
                min_triangles=self.preview_min_triangles,
                max_triangles=self.preview_max_triangles,
                max_bytes=self.max_bytes,
            ),
            "production": Limits(
                min_triangles=self.production_min_triangles,
                max_triangles=self.production_max_triangles,
                max_bytes=self.max_bytes,
            ),
        }

    def make_generator(self) -> Generator:
        if self.generator == "offline":
            return OfflineGenerator()
        return TripoClient(
            base_url=self.tripo_base_url,
            api_key_env=self.tripo_api_key_env,
            poll_interval=self.poll_interval,
            deadline=self.deadline,
            max_retries=self.max_retries,
            backoff_base=self.backoff_base,
            max_bytes=self.max_bytes,
        )

    def make_uploader(self, assets: Path, url_for: Callable[[str], str]) -> Uploader:
        if self.uploader == "local":
            return LocalStorage(assets, url_for)
        if self.wordpress_url is None or self.wordpress_user is None:
            raise tomlfile.ConfigFileError(
                "[pipeline] wordpress needs wordpress_url and wordpress_user"
            )
        return WordPressUploader(
            base_url=self.wordpress_url,
            user=self.wordpress_user,
            app_password_env=self.wordpress_app_password_env,
            max_retries=self.max_retries,
            backoff_base=self.backoff_base,
        )


@attrs.define
class PipelineConfig:
    generator: Generator
    uploader: Uploader
    limits: dict[str, Limits]
    max_concurrent: int = 2
    asset_retention: float = 30 * 24 * 3600.0  # seconds; 0 keeps assets for ever
    asset_max_bytes: int = 1024**3  # bytes on disk; 0 means no bound


def load_pipeline_config(
    path: Path | None, assets: Path, url_for: Callable[[str], str]
) -> PipelineConfig:
    """The `[pipeline]` section of the providers file.

    Raises:
        ConfigFileError: an unknown key, generator or uploader, or missing WordPress settings.
    """
    doc: dict[str, Any] = tomlfile.read(path).get("pipeline", {}) if path is not None else {}
    section = tomlfile.structure(doc, PipelineSection, f"{path} [pipeline]")
    return PipelineConfig(
        section.make_generator(),
        section.make_uploader(assets, url_for),
        section.limits(),
        section.max_concurrent,
    )
