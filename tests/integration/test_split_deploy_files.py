"""Procfile, Dockerfile and docker-compose.yml agree with the CLI and the settings: every command
parses, ports and variable names are the app's own, and the scaled layout passes the topology
check. (No Docker engine here: the files are read, not built.)"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from pydantic import AliasChoices

from app.cli import make_parser
from app.settings import Mode, Settings
from app.topology import check_topology
from tests.conftest import LiveApp, free_port

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PORT = Settings.model_fields["port"].default
DEFAULT_WORKER_PORT = Settings.model_fields["worker_port"].default
APP_SERVICES = ("app", "migrate", "web", "worker")


def setting_variables() -> set[str]:
    """Every environment variable the settings read."""
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {choice.upper() for choice in alias.choices if isinstance(choice, str)}
        else:
            names.add(f"ATSPRO_{name.upper()}")
    return names


def ours(variables: dict[str, str]) -> dict[str, str]:
    """The variables meant for the app (the rest are Python's, pip's or the shell's)."""
    prefixes = ("ATSPRO_", "PORT", "DATABASE_URL", "REDIS_URL", "OPENAI_")
    return {k: v for k, v in variables.items() if k.startswith(prefixes)}


def parse(argv: list[str]) -> Any:
    """The CLI's reading of ``atspro ARGS``; fails the test if the CLI would refuse it."""
    assert argv[0] == "atspro", argv
    try:
        return make_parser().parse_args(argv[1:])
    except SystemExit:
        pytest.fail(f"`{shlex.join(argv)}` is not a valid atspro command")


def procfile() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(active process types, commented-out ones), each as name → argv."""
    active: dict[str, list[str]] = {}
    commented: dict[str, list[str]] = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        match = re.fullmatch(r"(#\s*)?([a-z]+):\s*(atspro\b.*)", line.strip())
        if match:
            (commented if match.group(1) else active)[match.group(2)] = shlex.split(match[3])
    return active, commented


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (line.strip().partition(" ") for line in joined.splitlines())
        if word
    ]


def docker_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction, arguments in dockerfile():
        if instruction == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(arguments))
    return env


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def healthcheck_port(test: list[str]) -> int:
    [port] = re.findall(r"127\.0\.0\.1:(\d+)/healthz", " ".join(test))
    return int(port)


def test_procfile_runs_one_container_with_a_split_variant() -> None:
    """The Procfile migrates on release and serves everything in one process; its commented split
    variant is a web-only process and a worker; every command is one the CLI accepts."""
    active, commented = procfile()
    assert active["release"] == ["atspro", "migrate"]
    web = parse(active["web"])
    assert (web.handler.__name__, web.mode) == ("_serve", None)  # mode all
    assert web.host == "0.0.0.0"
    split_web, worker = parse(commented["web"]), parse(commented["worker"])
    assert (split_web.handler.__name__, split_web.mode) == ("_serve", Mode.WEB.value)
    assert worker.handler.__name__ == "_worker"


def test_dockerfile_builds_a_non_root_image_that_serves_by_default() -> None:
    """Multi-stage (Node for web/, then slim Python), a non-root user, the app's own variables and
    ports, a volume for the data dir, a health check on /healthz, and `atspro serve` by default."""
    instructions = dockerfile()
    stages = [arguments for instruction, arguments in instructions if instruction == "FROM"]
    assert stages[0].startswith("node:")
    assert stages[0].endswith(" AS web")
    assert stages[-1].startswith("python:3.11-slim")
    assert any(i == "COPY" and a.startswith("--from=web ") for i, a in instructions)
    [user] = [arguments for instruction, arguments in instructions if instruction == "USER"]
    assert user not in ("root", "0")

    env = docker_env()
    assert set(ours(env)) <= setting_variables()
    [exposed] = [
        arguments.split() for instruction, arguments in instructions if instruction == "EXPOSE"
    ]
    assert {env["PORT"], env["ATSPRO_WORKER_PORT"]} == set(exposed)
    assert {int(env["PORT"]), int(env["ATSPRO_WORKER_PORT"])} == {DEFAULT_PORT, DEFAULT_WORKER_PORT}
    [volume] = [json.loads(a) for i, a in instructions if i == "VOLUME"]
    assert volume == [env["ATSPRO_DATA_DIR"]]
    assert env["ATSPRO_HOST"] == "0.0.0.0"

    [healthcheck] = [
        arguments for instruction, arguments in instructions if instruction == "HEALTHCHECK"
    ]
    assert "/healthz" in healthcheck
    [command] = [json.loads(a) for i, a in instructions if i == "CMD"]
    assert parse(command).handler.__name__ == "_serve"


async def test_the_dockerfile_health_check_probes_a_live_app(live: LiveApp) -> None:
    """The HEALTHCHECK command succeeds against a running app on $PORT, and fails without one."""
    [healthcheck] = [a for i, a in dockerfile() if i == "HEALTHCHECK"]
    command = json.loads(healthcheck.split(" CMD ", 1)[1])
    assert command[0] == "python"
    port = live.base_url.rsplit(":", 1)[1]
    for env_port, expected in ((port, 0), (str(free_port()), 1)):
        with anyio.fail_after(30):
            result = await anyio.run_process(
                [sys.executable, *command[1:]], env={"PORT": env_port}, check=False
            )
        assert result.returncode == expected, result.stderr


def test_compose_default_is_one_container_and_scaled_is_a_profile() -> None:
    """Without a profile only the one-container app runs (HTTP on PORT, SQLite in the image's data
    volume); the `scaled` profile adds postgres, redis, a one-shot migration, 2 web replicas and
    workers, each with the dependencies and health checks it needs."""
    services = compose()["services"]
    assert [name for name, service in services.items() if "profiles" not in service] == ["app"]
    assert {n for n, s in services.items() if s.get("profiles") == ["scaled"]} == {
        "postgres", "redis", "migrate", "web", "worker"
    }  # fmt: skip
    data_dir = docker_env()["ATSPRO_DATA_DIR"]

    app = services["app"]
    assert parse(app["command"]).mode is None  # mode all
    assert [volume.split(":")[1] for volume in app["volumes"]] == [data_dir]
    assert app["ports"] == [f"{DEFAULT_PORT}:{app['environment']['PORT']}"]
    assert healthcheck_port(app["healthcheck"]["test"]) == DEFAULT_PORT

    migrate = services["migrate"]
    assert parse(migrate["command"]).handler.__name__ == "_migrate"
    assert migrate["restart"] == "no"
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}

    web, worker = services["web"], services["worker"]
    assert parse(web["command"]).mode == Mode.WEB.value
    assert web["deploy"]["replicas"] == 2
    assert healthcheck_port(web["healthcheck"]["test"]) == int(web["environment"]["PORT"])
    assert parse(worker["command"]).handler.__name__ == "_worker"
    assert worker["deploy"]["replicas"] >= 2
    assert healthcheck_port(worker["healthcheck"]["test"]) == DEFAULT_WORKER_PORT
    assert int(worker["environment"]["ATSPRO_WORKER_PORT"]) == DEFAULT_WORKER_PORT
    for service in (web, worker):
        assert service["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"]


def test_compose_variables_are_settings_and_the_scaled_layout_passes_the_topology_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each app service's variables are settings the app reads; the scaled web and worker
    configurations start (no refusal) and need no single-host warning."""
    services = compose()["services"]
    for name in APP_SERVICES:
        assert set(ours(services[name].get("environment", {}))) <= setting_variables(), name
    for name, mode in (("web", Mode.WEB), ("worker", Mode.WORKER)):
        with monkeypatch.context() as patched:
            for variable in setting_variables():
                patched.delenv(variable, raising=False)
            for variable, value in services[name]["environment"].items():
                patched.setenv(variable, str(value))
            settings = Settings(mode=mode)
            assert not settings.uses_sqlite_database
            assert check_topology(settings) == [], name
