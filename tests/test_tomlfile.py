"""Operator files (agents, providers, [pipeline]): a mistake names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from devskyy_ws.providers.config import load_provider_config
from devskyy_ws.providers.llm import OpenAICompatProvider
from devskyy_ws.services.pipeline_config import load_pipeline_config
from devskyy_ws.services.roster import load_roster
from devskyy_ws.tomlfile import ConfigFileError


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "conf.toml"
    path.write_text(text)
    return path


def _url(name: str) -> str:
    return f"/assets/{name}"


def test_the_defaults_need_no_file(tmp_path: Path) -> None:
    assert len(load_roster()) == 6
    assert load_roster()["commerce"].tools[0].category == "catalogue"
    config = load_provider_config(None)
    assert config.task_provider == "offline-detailed" and len(config.competitors()) == 6
    pipeline = load_pipeline_config(None, tmp_path, _url)
    assert pipeline.max_concurrent == 2 and pipeline.limits["production"].max_triangles == 200_000


def test_an_agent_entry_fills_its_defaults_and_replaces_its_type(tmp_path: Path) -> None:
    path = _file(tmp_path, '[[agents]]\ntype = "commerce"\n[[agents.tools]]\nname = "t"\n')
    commerce = load_roster(path)["commerce"]
    assert commerce.name == "Commerce Agent" and commerce.capabilities == ()
    assert commerce.tools[0].category == "general" and commerce.tools[0].description == ""
    assert load_roster(path)["creative"].name == "Creative Agent"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[[agents]]\ntype = "x"\nnmae = "X"\n', "agents[0]: extra fields found (nmae)"),
        ("[[agents]]\ntype = 5\n", "agents[0].type"),
        ('[[agents]]\ntype = "x"\ncapabilities = "a"\n', "agents[0].capabilities"),
        (
            '[[agents]]\ntype = "x"\n[[agents.tools]]\ndescription = "d"\n',
            "agents[0].tools[0].name",
        ),
        ("[[agents]\n", "conf.toml"),
    ],
)
def test_a_bad_roster_names_the_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigFileError, match=r"conf\.toml") as caught:
        load_roster(_file(tmp_path, text))
    assert named in str(caught.value)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[round_table]\njduge = 'x'\n", "round_table: extra fields found (jduge)"),
        ("[round_table]\ntimeout = 'slow'\n", "round_table.timeout"),
        ("[[providers]]\nname = 'p'\nkind = 'magic'\n", "kind"),
        ("[[providers]]\nname = 'p'\nkind = 'openai'\n", "needs base_url and model"),
        ("[[providers]]\nname = 'p'\nbase_url = 'http://x'\nmodel = 'm'\nmax_retries = '3'\n",
         "providers[0].max_retries"),
        ("[tasks]\nprovider = 'nobody'\n", "[tasks] provider 'nobody' is not defined"),
        ("[round_table]\nweights = { relevance = 0.9 }\n", "sum to 1"),
        ("[typo_section]\n", "extra fields found (typo_section)"),
    ],
)  # fmt: skip
def test_a_bad_providers_file_names_the_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigFileError) as caught:
        load_provider_config(_file(tmp_path, text))
    assert named in str(caught.value)


def test_an_openai_provider_takes_only_what_the_file_sets(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "[[providers]]\nname = 'p'\nbase_url = 'http://127.0.0.1:9/v1/'\nmodel = 'm'\n"
        "timeout = 5\n",
    )
    config = load_provider_config(path)
    provider = config.get("p")
    assert isinstance(provider, OpenAICompatProvider)
    assert config.task_provider == "p" and provider.model == "m"
    assert provider.timeout == 5.0 and provider.max_retries == 3  # its own default


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[pipeline]\ngenerator = 'blender'\n", "generator"),
        ("[pipeline]\nuploader = 'wordpress'\n", "wordpress_url and wordpress_user"),
        ("[pipeline]\nmax_file_mb = 'big'\n", "max_file_mb"),
        ("[pipeline]\nmax_concurent = 3\n", "extra fields found (max_concurent)"),
    ],
)
def test_a_bad_pipeline_section_names_the_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigFileError) as caught:
        load_pipeline_config(_file(tmp_path, text), tmp_path, _url)
    assert named in str(caught.value)


def test_the_pipeline_section_sets_its_limits(tmp_path: Path) -> None:
    path = _file(tmp_path, "[pipeline]\nmax_file_mb = 1\npreview_max_triangles = 60000\n")
    config = load_pipeline_config(path, tmp_path, _url)
    assert config.limits["preview"].max_triangles == 60_000
    assert config.limits["preview"].max_bytes == 1024 * 1024
