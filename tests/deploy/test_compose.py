"""docker-compose.yml, Dockerfile and deploy/ checked without Docker (it does not run on our machines).

The compose file is parsed with PyYAML (anchors and `<<` merges resolved) and its `${VAR}` references are
interpolated the way `docker compose config` would, from deploy/.env.example with the required secrets filled in.
The runflow services' variables are checked against the settings model (worker/settings.py): the same names
everywhere, and the values must parse as Settings.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import AliasChoices
from sqlalchemy.engine import make_url

from worker.codec import codec_from_settings
from worker.settings import Settings
from workflows import search_attributes as sa

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy" / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
INIT_DATABASES = ROOT / "deploy" / "postgres" / "init-databases.sh"

SERVICES = {"postgres", "temporal", "temporal-setup", "temporal-ui", "mailpit", "migrate", "worker", "web"}
ONE_SHOT = {"temporal-setup", "migrate"}
RUNFLOW_SERVICES = {"migrate", "worker", "web"}
VERSION_TAG = re.compile(r"^v?\d+\.\d+(\.\d+)?([-.][A-Za-z0-9.]+)*$")  # 16.15-trixie, 1.29.7, v1.30.5
REFERENCE = re.compile(r"\$(?:\{(?P<braced>[^}]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*)|(?P<dollar>\$))")
BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?$", re.S)


# -- helpers ---------------------------------------------------------------
def settings_env_names() -> set[str]:
    """Every environment variable name the settings model reads: RUNFLOW_<FIELD>, or the field's aliases."""
    prefix = Settings.model_config.get("env_prefix", "")
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(choice for choice in alias.choices if isinstance(choice, str))
        elif isinstance(alias, str):
            names.add(alias)
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def parse_env_file(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(set, commented-out) variables of a .env file: `VAR=value` and `# VAR=value` lines."""
    active, commented = {}, {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^(?P<hash>#\s*)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$", line.strip())
        if match:
            value = match["value"].strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            (commented if match["hash"] else active)[match["name"]] = value
    return active, commented


def operator_env() -> dict[str, str]:
    """The .env an operator writes from deploy/.env.example: every empty (required) variable filled in."""
    active, _ = parse_env_file(ENV_EXAMPLE)
    key = base64.b64encode(bytes(range(32))).decode()
    filled = {"RUNFLOW_CODEC_KEYS": json.dumps({"2026-08": key}), "RUNFLOW_CODEC_KEY_ID": "2026-08"}
    return {name: value or filled.get(name, f"test-{name.lower().replace('_', '-')}") for name, value in active.items()}


def references(value: str) -> list[tuple[str, str | None, str]]:
    """The `${NAME}` / `${NAME:-default}` / `${NAME:?message}` / `$NAME` references in a string: (name, op, arg)."""
    found = []
    for match in REFERENCE.finditer(value):
        if match["dollar"]:
            continue
        if match["plain"]:
            found.append((match["plain"], None, ""))
            continue
        braced = BRACED.match(match["braced"])
        assert braced, f"not a compose variable reference: ${{{match['braced']}}}"
        found.append((braced["name"], braced["op"], braced["arg"] or ""))
    return found


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's interpolation of one value (strings only; `$$` is a literal `$`)."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match) -> str:
        if match["dollar"]:
            return "$"
        if match["plain"]:
            return env.get(match["plain"], "")
        braced = BRACED.match(match["braced"])
        name, op, arg = braced["name"], braced["op"], braced["arg"] or ""
        current = env.get(name)
        unset_or_empty = not current if op and op.startswith(":") else current is None
        if op in (":-", "-"):
            return arg if unset_or_empty else current
        if op in (":?", "?"):
            if unset_or_empty:
                raise KeyError(f"required variable {name} is missing: {arg}")
            return current
        if op in (":+", "+"):
            return "" if unset_or_empty else arg
        return current or ""

    return REFERENCE.sub(replace, value)


def walk_strings(value: Any):
    if isinstance(value, dict):
        for v in value.values():
            yield from walk_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk_strings(v)
    elif isinstance(value, str):
        yield value


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {k: (None if v is None else str(v)) for k, v in env.items()}


def depends_on(service: dict) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def published_ports(service: dict) -> list[tuple[str, int, int, str]]:
    """(host ip, host port, container port, protocol) of every published port."""
    result = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            if port.get("published") is None:
                continue
            result.append(
                (
                    port.get("host_ip", "0.0.0.0"),
                    int(port["published"]),
                    int(port["target"]),
                    port.get("protocol", "tcp"),
                )
            )
            continue
        text, _, protocol = str(port).partition("/")
        parts = text.rsplit(":", 2)
        if len(parts) == 1:
            continue  # container port only: Docker picks a free host port
        host_ip = parts[0] if len(parts) == 3 else "0.0.0.0"
        assert "-" not in parts[-2], f"port ranges are not expected: {port}"
        result.append((host_ip, int(parts[-2]), int(parts[-1]), protocol or "tcp"))
    return result


def command(service: dict) -> list[str]:
    cmd = service.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def healthcheck_test(service: dict) -> list[str]:
    test = (service.get("healthcheck") or {}).get("test") or []
    return shlex.split(test) if isinstance(test, str) else list(test)


def host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def dockerfile_stages() -> list[dict]:
    """The Dockerfile's stages: base image (ARG defaults resolved), USER, ENTRYPOINT, ENV and COPY sources."""
    args: dict[str, str] = {}
    stages: list[dict] = []
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        instruction, rest = instruction.upper(), rest.strip()
        if instruction == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif instruction == "FROM":
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m[1], m[0]), rest.split()[0])
            stages.append({"from": image, "user": None, "entrypoint": None, "env": {}, "copy": []})
        elif instruction == "USER":
            stages[-1]["user"] = rest
        elif instruction == "ENTRYPOINT":
            stages[-1]["entrypoint"] = json.loads(rest)
        elif instruction == "ENV":
            stages[-1]["env"].update(dict(pair.split("=", 1) for pair in shlex.split(rest)))
        elif instruction == "COPY":
            parts = [p for p in shlex.split(rest) if not p.startswith("--")]
            stages[-1]["copy"].append((parts[:-1], parts[-1], "--from" in rest))
    return stages


# -- fixtures ----------------------------------------------------------------
@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose(raw) -> dict:
    """The compose file as `docker compose config` would see it with an operator's .env."""
    return interpolate(raw, operator_env())


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict]:
    return compose["services"]


# -- structure -----------------------------------------------------------------
def test_the_services_are_there(raw):
    assert set(raw["services"]) == SERVICES
    assert "version" not in raw, "the compose specification has no `version:` key"


def test_images_are_pinned(services):
    for name, service in services.items():
        image = service.get("image")
        if name in RUNFLOW_SERVICES:
            assert service.get("build", {}).get("context") == ".", f"{name}: built from this directory"
        assert image, f"{name}: no image"
        repository, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
        assert tag, f"{name}: {image} has no tag"
        assert tag != "latest" and "latest" not in tag, f"{name}: {image} is not pinned"
        assert VERSION_TAG.match(tag), f"{name}: {image}: the tag is not a specific version"
        if name not in RUNFLOW_SERVICES:
            assert "build" not in service, f"{name}: third-party images are pulled, not built"
            major_minor = re.match(r"v?\d+\.\d+", tag)
            assert major_minor, f"{name}: {image}: pin at least major.minor"


def test_runflow_services_share_one_image(services):
    images = {services[name]["image"] for name in RUNFLOW_SERVICES}
    assert len(images) == 1, images
    for name in RUNFLOW_SERVICES:
        assert services[name].get("pull_policy") == "build", f"{name}: never pulled from a registry"


def test_the_temporal_setup_uses_the_servers_image(services):
    """Its Temporal CLI then always matches the server."""
    assert services["temporal-setup"]["image"] == services["temporal"]["image"]


def test_host_ports_do_not_clash(services):
    bindings = []
    for name, service in services.items():
        ports = published_ports(service)
        replicas = (service.get("deploy") or {}).get("replicas", 1)
        assert not (ports and replicas > 1), f"{name}: {replicas} replicas cannot publish one host port"
        bindings += [(name, *port) for port in ports]
    assert bindings, "nothing is published"
    for i, (name, ip, port, _, protocol) in enumerate(bindings):
        for other, other_ip, other_port, _, other_protocol in bindings[i + 1 :]:
            same_interface = ip == other_ip or "0.0.0.0" in (ip, other_ip)
            assert not (same_interface and port == other_port and protocol == other_protocol), (
                f"{name} and {other} both publish {protocol} port {port}"
            )


def test_only_the_web_app_is_published_beyond_localhost(services):
    """The Temporal UI and Mailpit have no login, Temporal's gRPC port none either."""
    for name, service in services.items():
        for ip, port, _, _ in published_ports(service):
            if name != "web":
                assert ip == "127.0.0.1", f"{name}: port {port} is published on {ip}"
    assert "ports" not in services["postgres"], "PostgreSQL stays inside the compose network"


def test_the_worker_has_two_replicas(services):
    assert services["worker"]["deploy"]["replicas"] == 2
    assert "container_name" not in services["worker"], "a fixed container name forbids replicas"


def test_every_long_running_service_has_a_healthcheck(services):
    for name, service in services.items():
        if name in ONE_SHOT:
            assert service.get("restart") == "no", f"{name}: a one-shot service is not restarted"
            continue
        test = healthcheck_test(service)
        assert test and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, f"{name}: no healthcheck"
        assert service.get("restart") in ("unless-stopped", "always"), f"{name}: not restarted"


def test_depends_on_conditions_refer_to_existing_services(services):
    for name, service in services.items():
        for target, condition in depends_on(service).items():
            assert target in services, f"{name} depends on the unknown service {target}"
            assert condition in ("service_healthy", "service_completed_successfully"), (
                f"{name} -> {target}: {condition} does not wait for anything useful"
            )
            if condition == "service_healthy":
                assert healthcheck_test(services[target]), f"{name} waits for {target} to be healthy: no healthcheck"
            else:
                assert target in ONE_SHOT, f"{name} waits for {target} to complete: it never does"


def test_the_start_order(services):
    order = {name: depends_on(service) for name, service in services.items()}
    assert order["temporal"] == {"postgres": "service_healthy"}
    assert order["migrate"] == {"postgres": "service_healthy"}
    assert order["temporal-setup"] == {"temporal": "service_healthy"}
    for name in ("worker", "web"):
        assert order[name]["temporal"] == "service_healthy"
        assert order[name]["migrate"] == "service_completed_successfully"
        assert order[name]["temporal-setup"] == "service_completed_successfully"

    def reaches(start: str, seen: tuple = ()) -> None:
        assert start not in seen, f"dependency cycle: {' -> '.join((*seen, start))}"
        for target in order[start]:
            reaches(target, (*seen, start))

    for name in services:
        reaches(name)


def test_volumes_are_declared(raw, services):
    declared = set(raw.get("volumes") or {})
    used = set()
    for name, service in services.items():
        for volume in service.get("volumes") or []:
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: the bind mount {source} does not exist"
            else:
                used.add(source)
    assert used == declared, f"declared {declared}, used {used}"
    assert any(v.startswith("postgres-data:/var/lib/postgresql/data") for v in services["postgres"]["volumes"])
    assert "mailpit-data:/data" in services["mailpit"]["volumes"]
    assert environment(services["mailpit"])["MP_DATABASE"].startswith("/data/"), "Mailpit keeps its mail"


# -- settings ----------------------------------------------------------------
def test_runflow_variables_are_settings(services):
    known = settings_env_names()
    for name in RUNFLOW_SERVICES:
        unknown = set(environment(services[name])) - known
        assert not unknown, f"{name}: {sorted(unknown)} are not settings (worker/settings.py)"


def test_runflow_variables_parse_as_settings(services, monkeypatch):
    """The interpolated values are valid Settings, and the codec keys make a codec."""
    for name in ("worker", "web"):
        env = environment(services[name])
        for variable in settings_env_names():
            monkeypatch.delenv(variable, raising=False)
        for variable, value in env.items():
            monkeypatch.setenv(variable, value)
        settings = Settings(_env_file=None)
        assert settings.effective_database_url == env["RUNFLOW_DATABASE_URL"]
        assert settings.log_format == "json"
        assert settings.codec_key_id in settings.codec_keys
        assert codec_from_settings(settings) is not None
        assert all(origin.startswith("http") for origin in settings.codec_cors_origins)


def test_the_worker_and_the_web_app_have_the_same_settings(services):
    assert environment(services["worker"]) == environment(services["web"])
    migrate = environment(services["migrate"])
    assert set(migrate) < set(environment(services["worker"])), "migrate gets only what it needs"
    for variable, value in migrate.items():
        assert environment(services["worker"])[variable] == value


def test_production_settings_are_set(raw, services):
    """No development default survives: PostgreSQL, the Temporal service, SMTP, secrets, JSON logs."""
    for name in ("worker", "web"):
        env = environment(services[name])
        assert env["TEMPORAL_ADDRESS"]
        assert env["RUNFLOW_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert env["RUNFLOW_SMTP_HOST"] and int(env["RUNFLOW_SMTP_PORT"])
        assert env["RUNFLOW_LOG_FORMAT"] == "json"
    assert environment(services["migrate"])["RUNFLOW_DATABASE_URL"].startswith("postgresql+psycopg://")
    secrets = {
        "RUNFLOW_SECRET_KEY",
        "RUNFLOW_API_TOKEN",
        "RUNFLOW_CODEC_KEYS",
        "RUNFLOW_CODEC_KEY_ID",
        "RUNFLOW_CODEC_TOKEN",
    }
    for name in ("worker", "web"):
        env = environment(raw["services"][name])
        for secret in secrets:
            assert [(n, op) for n, op, _ in references(env[secret])] == [(secret, ":?")], (
                f"{name}: {secret} must be required (${{{secret}:?…}}), without a default"
            )


def test_the_database_url_points_at_the_postgres_service(raw, services):
    url = make_url(environment(services["worker"])["RUNFLOW_DATABASE_URL"])
    assert url.drivername == "postgresql+psycopg"
    assert url.host in services
    assert url.host == "postgres"
    postgres_command = " ".join(command(services["postgres"]))
    port = re.search(r"port=(\d+)", postgres_command)
    assert url.port == (int(port[1]) if port else 5432)
    healthcheck = " ".join(healthcheck_test(services["postgres"]))
    assert f"--port {url.port}" in healthcheck
    # the role, its database and its password are the ones deploy/postgres/init-databases.sh creates
    init = INIT_DATABASES.read_text(encoding="utf-8")
    assert f"CREATE ROLE {url.username} LOGIN" in init
    assert f"CREATE DATABASE {url.database} OWNER {url.username}" in init
    raw_url = environment(raw["services"]["worker"])["RUNFLOW_DATABASE_URL"]
    password_variable = references(raw_url)[0][0]
    assert password_variable in environment(raw["services"]["postgres"])
    assert f'runflow_password="${password_variable}"' in init


def test_temporal_uses_its_own_role(raw, services):
    temporal = environment(services["temporal"])
    assert temporal["DB"] == "postgres12" and temporal["POSTGRES_SEEDS"] == "postgres"
    assert int(temporal["DB_PORT"]) == make_url(environment(services["worker"])["RUNFLOW_DATABASE_URL"]).port
    init = INIT_DATABASES.read_text(encoding="utf-8")
    assert f"CREATE ROLE {temporal['POSTGRES_USER']} LOGIN" in init
    for database in ("temporal", "temporal_visibility"):  # auto-setup's DBNAME and VISIBILITY_DBNAME
        assert f"CREATE DATABASE {database} OWNER {temporal['POSTGRES_USER']}" in init
    assert temporal["SKIP_DB_CREATE"] == "true"
    password_variable = references(environment(raw["services"]["temporal"])["POSTGRES_PWD"])[0][0]
    assert password_variable in environment(raw["services"]["postgres"])
    assert f'temporal_password="${password_variable}"' in init


def test_temporal_address_and_namespace_match_the_temporal_service(services):
    temporal = services["temporal"]
    host, port = host_port(environment(services["worker"])["TEMPORAL_ADDRESS"])
    assert host == "temporal" and host in services
    assert port in {container for _, _, container, _ in published_ports(temporal)}
    health = healthcheck_test(temporal)
    assert health[health.index("--address") + 1] == f"{host}:{port}"
    for name in ("temporal", "temporal-setup", "temporal-ui", "worker", "web"):
        assert environment(services[name])["TEMPORAL_ADDRESS"] == f"{host}:{port}", name
    namespace = environment(services["worker"])["TEMPORAL_NAMESPACE"]
    assert environment(temporal)["DEFAULT_NAMESPACE"] == namespace
    assert environment(services["temporal-setup"])["TEMPORAL_NAMESPACE"] == namespace
    assert environment(services["temporal-ui"])["TEMPORAL_DEFAULT_NAMESPACE"] == namespace


def test_smtp_goes_to_mailpit(services):
    env = environment(services["worker"])
    mailpit = environment(services["mailpit"])
    assert env["RUNFLOW_SMTP_HOST"] == "mailpit"
    _, smtp_port = host_port(mailpit["MP_SMTP_BIND_ADDR"])
    assert int(env["RUNFLOW_SMTP_PORT"]) == smtp_port
    assert str(smtp_port) in [str(p) for p in services["mailpit"].get("expose", [])]
    _, ui_port = host_port(mailpit["MP_UI_BIND_ADDR"])
    assert ui_port in {container for _, _, container, _ in published_ports(services["mailpit"])}
    assert ui_port != smtp_port


def test_the_web_app_listens_where_it_is_published_and_checked(services):
    web = services["web"]
    cmd = command(web)
    assert cmd[0] == "web"
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"
    port = int(cmd[cmd.index("--port") + 1])
    assert port in {container for _, _, container, _ in published_ports(web)}
    assert f"http://127.0.0.1:{port}/healthz" in healthcheck_test(web)
    base_url = environment(web)["RUNFLOW_WEB_BASE_URL"]
    published = {host for _, host, container, _ in published_ports(web) if container == port}
    assert urlsplit(base_url).port in published, "the default RUNFLOW_WEB_BASE_URL reaches the web app"


def test_the_temporal_ui_decodes_through_the_web_apps_codec_server(services):
    ui = environment(services["temporal-ui"])
    web = environment(services["web"])
    assert ui["TEMPORAL_CODEC_ENDPOINT"] == web["RUNFLOW_WEB_BASE_URL"].rstrip("/") + "/codec"
    ui_port = published_ports(services["temporal-ui"])[0][1]
    assert f"http://localhost:{ui_port}" in json.loads(web["RUNFLOW_CODEC_CORS_ORIGINS"])


def test_commands(services):
    assert command(services["migrate"]) == ["db", "upgrade"]
    assert command(services["worker"]) == ["worker"]


# -- search attributes ---------------------------------------------------------
def test_the_setup_creates_exactly_runflows_search_attributes(services):
    setup = services["temporal-setup"]
    pairs = environment(setup)["SEARCH_ATTRIBUTES"].split()
    declared = dict(pair.split("=", 1) for pair in pairs)
    assert len(declared) == len(pairs), "a search attribute is listed twice"
    flags = sa.cli_flags()
    expected = dict(flags[i + 1].split("=", 1) for i in range(0, len(flags), 2))
    assert declared == expected
    assert set(declared) == {key.name for key in sa.all_keys()}
    assert set(declared.values()) <= {"Keyword", "Datetime", "Int", "Bool", "Text", "Double", "KeywordList"}


def test_the_setup_script_is_mounted_and_reads_the_list(services):
    setup = services["temporal-setup"]
    entrypoint = setup["entrypoint"]
    script = entrypoint[-1]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in setup["volumes"]}
    assert script in mounts, f"{script} is not mounted"
    text = (ROOT / mounts[script]).read_text(encoding="utf-8")
    assert "$SEARCH_ATTRIBUTES" in text and "search-attribute create" in text
    assert "namespace describe" in text, "waits for auto-setup to create the namespace"


# -- ${VAR} references and deploy/.env.example ---------------------------------
def test_every_variable_is_documented_in_the_env_example(raw):
    active, commented = parse_env_file(ENV_EXAMPLE)
    documented = set(active) | set(commented)
    referenced = {name: op for value in walk_strings(raw) for name, op, _ in references(value)}
    assert referenced, "no ${VAR} references at all?"
    undocumented = set(referenced) - documented
    assert not undocumented, f"not in deploy/.env.example: {sorted(undocumented)}"
    unused = documented - set(referenced)
    assert not unused, f"deploy/.env.example documents variables the compose file does not use: {sorted(unused)}"
    for name, op in referenced.items():
        if op in (":?", "?"):
            assert name in active and active[name] == "", f"{name} is required: listed empty, uncommented"
        else:
            assert name in commented, f"{name} has a default: show it commented out"


def test_referenced_runflow_variables_have_the_settings_names(raw):
    """`.env` uses the settings' names too: a RUNFLOW_/TEMPORAL_ variable there is a setting, set under its name."""
    known = settings_env_names()
    for value in walk_strings(raw):
        for name, _, _ in references(value):
            if name.startswith("RUNFLOW_"):
                assert name in known, f"${{{name}}} looks like a setting but is none"
    for service in RUNFLOW_SERVICES:
        for variable, value in environment(raw["services"][service]).items():
            names = [n for n, _, _ in references(value or "") if n in known]
            assert names in ([], [variable]), f"{service}: {variable} is set from {names}"


def test_the_compose_file_needs_the_operators_env():
    """Without .env, interpolation fails on the first required secret (as `docker compose up` would)."""
    with pytest.raises(KeyError, match="required variable"):
        interpolate(yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8")), {})


def test_the_env_example_parses_with_the_default_values(compose):
    _, commented = parse_env_file(ENV_EXAMPLE)
    env = environment(compose["services"]["worker"])
    for name, default in commented.items():
        if name in env:
            assert env[name] == default, f"{name}: .env.example shows {default!r}, the compose default is {env[name]!r}"


# -- Dockerfile ----------------------------------------------------------------
def test_the_dockerfile_base_images_are_pinned():
    stages = dockerfile_stages()
    assert stages
    for stage in stages:
        image = stage["from"]
        assert "$" not in image, f"unresolved build argument in FROM {image}"
        name, _, tag = image.partition(":")
        assert name == "python", image
        assert re.match(r"^3\.11\.\d+-slim-[a-z]+$", tag), f"{image}: pin Python's patch release and Debian's"


def test_the_image_runs_as_a_non_root_user():
    final = dockerfile_stages()[-1]
    user = final["user"]
    assert user, "the final stage has no USER"
    assert user.split(":")[0] not in ("root", "0"), user
    assert final["entrypoint"] == ["runflow"]


def test_the_image_holds_the_health_check_the_compose_file_runs(services):
    final = dockerfile_stages()[-1]
    copied = {dest: sources for sources, dest, from_stage in final["copy"] if not from_stage}
    for name in ("worker", "web"):
        test = healthcheck_test(services[name])
        script = next(arg for arg in test if arg.endswith(".py"))
        assert script in copied, f"{name}: {script} is not in the image"
        for source in copied[script]:
            assert (ROOT / source).is_file()


def test_the_images_environment_are_settings():
    known = settings_env_names()
    env = dockerfile_stages()[-1]["env"]
    assert "RUNFLOW_DATA_DIR" in env
    for name in env:
        if name.startswith(("RUNFLOW_", "TEMPORAL_")):
            assert name in known, f"Dockerfile ENV {name} is not a setting"


def test_the_build_context_leaves_out_secrets_and_junk():
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for needed in (".env", ".venv", ".git", "var"):
        assert needed in patterns, f".dockerignore does not leave out {needed}"
    assert "!deploy/healthcheck.py" in patterns, "the health check must stay in the build context"
    for kept in ("pyproject.toml", "domain", "workflows", "activities_impl", "worker", "api", "migrations"):
        assert kept not in patterns, f"{kept} is needed by `pip install .`"
