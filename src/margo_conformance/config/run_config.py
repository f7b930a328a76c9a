"""The SUT file and the run configuration: parsed and validated once, then frozen.

Configuration flows one way: the SUT file (YAML, checked against `schemas/sut.schema.json`)
and the command line become one `RunConfig`, which fixtures receive. Nothing downstream
reads the environment or the file again.
"""

from __future__ import annotations

import copyreg
import dataclasses
import json
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import jsonschema
import yaml

from margo_conformance.base import credentials, redaction
from margo_conformance.base.errors import ConfigError
from margo_conformance.base.paths import SCHEMA_DIR
from margo_conformance.config.interop import Interop, parse_interop
from margo_conformance.config.placeholders import (
    CONTAINER,
    PLACEHOLDER_SCOPES,
    PLACEHOLDERS,
    PROCESS,
    PROCESS_PLACEHOLDERS,
    URL,
    render,
    template_fields,
)

Role = Literal["agent", "wos"]

_SECRET_NAME = re.compile(r"(KEY|SECRET|TOKEN|PASSWORD|CREDENTIAL)", re.IGNORECASE)


@dataclass(frozen=True)
class BuildSpec:
    context: Path
    dockerfile: str = "Dockerfile"
    args: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class ProcessSpec:
    """`launcher: process`: the command that starts the SUT and the folder it runs in."""

    command: tuple[str, ...]
    cwd: Path


@dataclass(frozen=True)
class UrlSpec:
    """`launcher: url` (a WOS that already runs): where devices reach its API, and its control adapter."""

    api: str
    control: str


@dataclass(frozen=True)
class ReadySpec:
    log: str | None = None
    http_port: int | None = None
    http_path: str = "/"
    http_status: int = 200


@dataclass(frozen=True)
class Timeouts:
    ready: float = 30.0
    onboarding: float = 30.0
    deployment: float = 90.0
    stop: float = 10.0
    request: float = 10.0


@dataclass(frozen=True)
class Control:
    """How the suite reaches a WOS's control verbs: an HTTP port or a command in the container."""

    http_port: int | None = None
    http_path: str = ""
    command: tuple[str, ...] = ()


@dataclass(frozen=True)
class Polling:
    interval: float = 2.0
    tolerance: float = 2.0


@dataclass(frozen=True)
class SutConfig:
    """One SUT file, validated."""

    path: Path
    name: str
    role: Role
    image: str = ""  # the container launcher's image; empty for a process
    profiles: tuple[str, ...] = ("V24",)
    vendor: str = ""
    version: str = ""
    build: BuildSpec | None = None
    command: tuple[str, ...] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    mounts: tuple[Mount, ...] = ()
    port: int | None = None
    control: Control | None = None
    ready: ReadySpec = field(default_factory=ReadySpec)
    timeouts: Timeouts = field(default_factory=Timeouts)
    polling: Polling = field(default_factory=Polling)
    secrets: frozenset[str] = frozenset()
    interop: Interop = field(default_factory=Interop)
    launcher: str = CONTAINER
    process: ProcessSpec | None = None
    url: UrlSpec | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def in_containers(self) -> bool:
        """The suite runs the SUT in containers on the Docker engine (else as a local process,
        or not at all: a WOS at a URL)."""
        return self.launcher == CONTAINER

    @property
    def shared(self) -> bool:
        """One instance serves every scenario (a WOS at a URL), rather than one per scenario."""
        return self.launcher == URL

    def is_secret(self, env_name: str) -> bool:
        return env_name in self.secrets or bool(_SECRET_NAME.search(env_name))

    def secret_values(self) -> list[str]:
        """The literal values of the SUT file's secret variables (templates are filled, and
        learned, when a container starts)."""
        return [v for n, v in self.env.items() if self.is_secret(n) and not _is_pure_placeholder(v)]

    def describe(self) -> dict[str, Any]:
        """The SUT as results.json shows it (identity, claims, the redacted SUT file)."""
        return {
            "name": self.name,
            "vendor": self.vendor,
            "version": self.version,
            "role": self.role,
            "profiles": list(self.profiles),
            "image": self.image,
            "sut_file": json.loads(json.dumps(self.redacted(), default=str)),
            "interop": self.interop.declared(),
        }

    def redacted(self) -> dict[str, Any]:
        """The SUT file as reports show it: each secret literal value replaced by its placeholder
        (`<redacted:sutSecret#N>`, as wherever else the run writes it), or by `***` when it is
        too short to be redacted by value.

        Placeholder templates such as `{onboarding_key}` are not secret and stay visible, so a
        reader can see what the suite injected.
        """
        shown = json.loads(json.dumps(dict(self.raw)))
        for name, value in shown.get("env", {}).items():
            if self.is_secret(name) and not _is_pure_placeholder(value):
                shown["env"][name] = redaction.learn(credentials.SUT_SECRET, value) or "***"
        shown["file"] = str(self.path)
        return shown


@dataclass(frozen=True)
class RunConfig:
    """Everything a conformance run needs, handed to fixtures."""

    sut: SutConfig
    report_dir: Path
    run_id: str
    base_image: str | None = None
    workload_image: str | None = None
    #: The node ids the run is limited to (--rerun-failed, --only-scenarios); empty: no limit.
    #: Here rather than on the command line so every xdist worker applies it to what it collects.
    only: tuple[str, ...] = ()

    def effective(self) -> dict[str, Any]:
        """What the run goes by, defaults filled in and secret values redacted: config.json
        and results.json's `config` show it, so a reader need not know the defaults."""
        sut = self.sut
        return {
            "run_id": self.run_id,
            "report_dir": str(self.report_dir),
            "base_image": self.base_image,
            "workload_image": self.workload_image,
            "only_scenarios": list(self.only),
            "sut": {
                "file": str(sut.path),
                "name": sut.name,
                "role": sut.role,
                "image": sut.image,
                "launcher": sut.launcher,
                "process": _plain(sut.process) if sut.process is not None else None,
                "url": _plain(sut.url) if sut.url is not None else None,
                "profiles": list(sut.profiles),
                "port": sut.port,
                "command": list(sut.command) if sut.command is not None else None,
                "env": sut.redacted().get("env", {}),
                "ready": _plain(sut.ready),
                "timeouts": _plain(sut.timeouts),
                "polling": _plain(sut.polling),
                "control": _plain(sut.control) if sut.control is not None else None,
                "interop": sut.interop.declared(),
            },
        }


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(dataclasses.asdict(value), default=str))


def read_only(mapping: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(mapping)


def _pickle_read_only_mapping(mapping: MappingProxyType[Any, Any]) -> tuple[Any, tuple[dict[Any, Any]]]:
    return read_only, (dict(mapping),)


# The frozen configuration holds read-only mappings (env, the raw SUT file); pickle them as such.
copyreg.pickle(MappingProxyType, _pickle_read_only_mapping)


def save_run_config(run: RunConfig, path: Path) -> None:
    """Hand the validated configuration to pytest and its worker processes, which load it as
    it is (frozen objects, pickled) instead of reading and validating the SUT file again.
    Secrets included: `path` is in a private directory of the run, never in the report."""
    path.touch(mode=0o600)
    path.write_bytes(pickle.dumps(run))


def load_run_config(path: Path) -> RunConfig:
    try:
        run = pickle.loads(path.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError) as exc:
        raise ConfigError(f"{path}: cannot load the run configuration ({exc})") from exc
    if not isinstance(run, RunConfig):
        raise ConfigError(f"{path}: not a run configuration")
    return run


@cache
def _sut_schema() -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / "sut.schema.json").read_text())


def load_sut_file(path: Path) -> SutConfig:
    """Read, validate and freeze a SUT file; any problem is one `ConfigError` line."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read SUT file ({exc.strerror or exc})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a SUT file is a YAML mapping, got {type(data).__name__}")
    _validate(path, data)
    return _freeze(path, data)


def _validate(path: Path, data: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(_sut_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is None:
        _check_placeholders(path, data)
        return
    where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    raise ConfigError(f"{path}: {where}: {error.message}")


def _check_placeholders(path: Path, data: dict[str, Any]) -> None:
    role = data["role"]
    templated: dict[str, tuple[str, str]] = {f"env.{k}": (v, role) for k, v in data.get("env", {}).items()}
    templated |= {f"command[{i}]": (v, role) for i, v in enumerate(data.get("command", []))}
    templated |= {f"process.command[{i}]": (v, role)
                  for i, v in enumerate(data.get("process", {}).get("command", []))}
    in_process = data.get("launcher", CONTAINER) == PROCESS
    build_args = data.get("build", {}).get("args", {})
    templated |= {f"build.args.{k}": (v, "build") for k, v in build_args.items()}
    for where, (template, scope) in templated.items():
        for name in template_fields(template):
            if name not in PLACEHOLDERS:
                known = ", ".join(sorted(PLACEHOLDERS))
                raise ConfigError(f"{path}: {where}: unknown placeholder {{{name}}} (known: {known})")
            if name in PROCESS_PLACEHOLDERS and not in_process:
                raise ConfigError(f"{path}: {where}: placeholder {{{name}}} is filled only for `launcher: process`")
            if name not in PLACEHOLDER_SCOPES[scope]:
                filled = ", ".join(sorted(PLACEHOLDER_SCOPES[scope]))
                place = "in build args" if scope == "build" else f"for a {scope} SUT"
                raise ConfigError(f"{path}: {where}: placeholder {{{name}}} is not filled {place} (filled: {filled})")


def build_arguments(build: BuildSpec, base_image: str) -> dict[str, str]:
    """A SUT file's build args, filled: they are rendered once per build, before any scenario."""
    return {name: render(value, {"base_image": base_image}) for name, value in build.args.items()}


def _is_pure_placeholder(value: str) -> bool:
    return bool(re.fullmatch(r"\{[a-z_]+\}", value))


def _control(data: dict[str, Any] | None) -> Control | None:
    if not data:
        return None
    http = data.get("http", {})
    return Control(
        http_port=http.get("port"),
        http_path=http.get("path", "").rstrip("/"),
        command=tuple(data.get("exec", {}).get("command", ())),
    )


def _freeze(path: Path, data: dict[str, Any]) -> SutConfig:
    build = data.get("build")
    ready = data.get("ready", {})
    http = ready.get("http", {})
    return SutConfig(
        path=path,
        name=data["name"],
        role=data["role"],
        image=data.get("image", ""),
        profiles=tuple(data.get("profiles", ["V24"])),
        vendor=data.get("vendor", ""),
        version=data.get("version", ""),
        build=(
            BuildSpec(
                context=(path.parent / build["context"]).resolve(),
                dockerfile=build.get("dockerfile", "Dockerfile"),
                args=MappingProxyType(dict(build.get("args", {}))),
            )
            if build
            else None
        ),
        command=tuple(data["command"]) if "command" in data else None,
        env=MappingProxyType(dict(data.get("env", {}))),
        mounts=tuple(Mount(**m) for m in data.get("mounts", [])),
        port=data.get("port"),
        control=_control(data.get("control")),
        ready=ReadySpec(
            log=ready.get("log"),
            http_port=http.get("port"),
            http_path=http.get("path", "/"),
            http_status=http.get("status", 200),
        ),
        timeouts=Timeouts(**data.get("timeouts", {})),
        polling=Polling(**data.get("polling", {})),
        secrets=frozenset(data.get("secrets", [])),
        interop=parse_interop(str(path), data.get("interop")),
        launcher=data.get("launcher", CONTAINER),
        process=_process(path, data.get("process")),
        url=UrlSpec(api=data["url"]["api"].rstrip("/"), control=data["url"]["control"].rstrip("/"))
        if "url" in data else None,
        raw=MappingProxyType(data),
    )


def _process(path: Path, data: dict[str, Any] | None) -> ProcessSpec | None:
    if not data:
        return None
    return ProcessSpec(command=tuple(data["command"]), cwd=(path.parent / data.get("cwd", ".")).resolve())
