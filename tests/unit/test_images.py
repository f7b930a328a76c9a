"""images and base_image: apt mirror parsing, the context hash, the wheelhouse convention, base-image order."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from unittest import mock

import docker.errors
import pytest

from margo_conformance.base.errors import EnvironmentSetupError, ImageBuildError
from margo_conformance.engine import base_image, images

# --------------------------------------------------------------------------- apt mirror

ONE_LINE = """\
# deb http://commented.example/debian bookworm main
deb-src http://src.example/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://mirror.example/debian/ bookworm main
deb http://security.example/debian-security bookworm-security main
"""

DEB822 = """\
Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.example/debian-security
Suites: bookworm-security
Components: main
"""


def test_mirror_from_one_line_format() -> None:
    assert list(base_image.mirrors_from_one_line_format(ONE_LINE, "bookworm")) == [
        "http://mirror.example/debian"
    ]


def test_mirror_from_deb822_skips_comments_and_disabled_stanzas() -> None:
    assert list(base_image.mirrors_from_deb822(DEB822, "bookworm")) == ["http://deb.example/debian"]


def test_find_mirror_reads_sources_list_d(tmp_path: Path) -> None:
    sources_dir = tmp_path / "sources.list.d"
    sources_dir.mkdir()
    (sources_dir / "debian.sources").write_text(DEB822)
    (sources_dir / "other.list.disabled").write_text(ONE_LINE)  # apt ignores it; so do we
    found = base_image.find_debian_mirror(tmp_path / "sources.list", sources_dir)
    assert found == "http://deb.example/debian"


def test_find_mirror_prefers_sources_list(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(ONE_LINE)
    sources_dir = tmp_path / "sources.list.d"
    sources_dir.mkdir()
    (sources_dir / "debian.sources").write_text(DEB822)
    found = base_image.find_debian_mirror(tmp_path / "sources.list", sources_dir)
    assert found == "http://mirror.example/debian"


def test_no_bookworm_source_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentSetupError, match="No apt source for Debian bookworm") as err:
        base_image.find_debian_mirror(tmp_path / "sources.list", tmp_path)
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------- context hash


def _context(tmp_path: Path) -> Path:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY app.py /\n")
    (context / "app.py").write_text("print('hi')\n")
    return context


def test_context_hash_is_stable_for_an_unchanged_context(tmp_path: Path) -> None:
    context = _context(tmp_path)
    first = images.context_hash(context, "Dockerfile", {"BASE_IMAGE": "b"})
    (context / "__pycache__").mkdir()
    (context / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    assert images.context_hash(context, "Dockerfile", {"BASE_IMAGE": "b"}) == first


def test_context_hash_ignores_what_dockerignore_excludes(tmp_path: Path) -> None:
    context = _context(tmp_path)
    (context / ".dockerignore").write_text("# not sent to the engine\ntests\n")
    (context / "tests").mkdir()
    before = images.context_hash(context, "Dockerfile", {})
    (context / "tests" / "test_app.py").write_text("def test(): pass\n")
    assert images.context_hash(context, "Dockerfile", {}) == before
    (context / "app.py").write_text("print('changed')\n")
    assert images.context_hash(context, "Dockerfile", {}) != before


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda c: (c / "app.py").write_text("print('bye')\n"), id="edited file"),
        pytest.param(lambda c: (c / "new.txt").write_text("x"), id="added file"),
        pytest.param(lambda c: (c / "app.py").rename(c / "main.py"), id="renamed file"),
        pytest.param(lambda c: os.chmod(c / "app.py", 0o755), id="exec bit"),
    ],
)
def test_context_hash_changes_when_a_file_changes(tmp_path: Path, change) -> None:
    context = _context(tmp_path)
    before = images.context_hash(context, "Dockerfile", {})
    change(context)
    assert images.context_hash(context, "Dockerfile", {}) != before


def test_context_hash_covers_build_args_dockerfile_name_and_parent_image(tmp_path: Path) -> None:
    context = _context(tmp_path)
    parent = {"a": "sha256:1"}
    base = images.context_hash(context, "Dockerfile", {"BASE_IMAGE": "a"}, parent)
    assert images.context_hash(context, "Dockerfile", {"BASE_IMAGE": "b"}, parent) != base
    assert images.context_hash(context, "Other", {"BASE_IMAGE": "a"}, parent) != base
    rebuilt_parent = {"a": "sha256:2"}
    assert images.context_hash(context, "Dockerfile", {"BASE_IMAGE": "a"}, rebuilt_parent) != base


# --------------------------------------------------------------------------- building


def _client_with_image(labels: dict[str, str] | None) -> mock.Mock:
    client = mock.Mock()
    if labels is None:
        client.images.get.side_effect = docker.errors.ImageNotFound("none")
    else:
        client.images.get.return_value = mock.Mock(labels=labels, id="sha256:abc")
    return client


def test_pip_wheel_runs_only_when_the_context_has_requirements(tmp_path: Path) -> None:
    context = _context(tmp_path)
    client = _client_with_image(None)
    with mock.patch.object(images.subprocess, "run") as run:
        images.ensure_built_image(client, "t:1", context)
    run.assert_not_called()
    assert client.images.build.call_args.kwargs["path"] == str(context)

    (context / "requirements.txt").write_text("six\n")
    built_from: list[Path] = []

    def record_build(**kwargs: object) -> None:
        built_from.append(Path(str(kwargs["path"])))
        assert (built_from[-1] / "requirements.txt").is_file()

    client.images.build.side_effect = record_build
    with mock.patch.object(images.subprocess, "run") as run:
        images.ensure_built_image(client, "t:1", context)
    argv = run.call_args.args[0]
    assert argv[1:5] == ["-m", "pip", "wheel", "--disable-pip-version-check"]
    assert argv[argv.index("-r") + 1] == "requirements.txt"
    assert argv[argv.index("-w") + 1] == str(built_from[0] / "wheelhouse")
    assert run.call_args.kwargs["check"] is True
    assert built_from[0] != context
    assert not built_from[0].exists()  # the staged copy is removed afterwards
    assert not (context / "wheelhouse").exists()  # the source context is untouched


def test_unchanged_context_is_not_rebuilt(tmp_path: Path) -> None:
    context = _context(tmp_path)
    args = {"BASE_IMAGE": "base:1"}
    current = images.context_hash(context, "Dockerfile", args, {"base:1": "sha256:abc"})
    client = _client_with_image({images.CONTEXT_HASH_LABEL: current})
    outcome = images.build_if_stale(client, "t:1", context, build_args=args)
    assert not outcome.built
    client.images.build.assert_not_called()


def test_changed_context_is_rebuilt_with_labels(tmp_path: Path) -> None:
    context = _context(tmp_path)
    client = _client_with_image({images.CONTEXT_HASH_LABEL: "sha256:stale"})
    outcome = images.build_if_stale(client, "t:1", context)
    assert outcome.built
    kwargs = client.images.build.call_args.kwargs
    assert kwargs["rm"] is True
    assert kwargs["labels"][images.CONTEXT_HASH_LABEL] == images.context_hash(
        context, "Dockerfile", {}
    )
    assert kwargs["labels"][images.CACHE_LABEL] == "true"


def test_build_failure_is_one_line_with_tag_and_last_error(tmp_path: Path) -> None:
    context = _context(tmp_path)
    client = _client_with_image(None)
    log = [
        {"stream": "Step 2/3 : RUN pip install --no-index foo\n"},
        {"stream": " ---> Running in 1234\n"},
        {"stream": "\x1b[91mERROR: No matching distribution found for foo\n\x1b[0m"},
        {"stream": "Removing intermediate container 1234\n"},
    ]
    client.images.build.side_effect = docker.errors.BuildError(
        "The command '/bin/sh -c pip install' returned a non-zero code: 1", iter(log)
    )
    with pytest.raises(ImageBuildError) as caught:
        images.ensure_built_image(client, "t:1", context)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("t:1-") and ": The command" in message  # the content tag
    assert message.endswith("(last output: ERROR: No matching distribution found for foo)")


def test_build_tags_the_content_tag_and_moves_the_plain_tag_but_keeps_old_images(tmp_path: Path) -> None:
    context = _context(tmp_path)
    client = _client_with_image(None)
    outcome = images.build_if_stale(client, "t:1", context)
    assert outcome.built and outcome.tag.startswith("t:1-") and len(outcome.tag) == len("t:1-") + 12
    assert client.images.build.call_args.kwargs["tag"] == outcome.tag
    client.api.tag.assert_called_once_with(outcome.tag, "t", "1", force=True)
    # Another run may still be using the superseded image: nothing is removed.
    client.images.remove.assert_not_called()


def test_content_tag_names_one_build_input() -> None:
    assert images.content_tag("reg:5000/a/b:dev", "sha256:0123456789abcdef") == "reg:5000/a/b:dev-0123456789ab"
    assert images.content_tag("a/b", "sha256:0123456789abcdef") == "a/b:latest-0123456789ab"


# --------------------------------------------------------------------------- base image order


def _client_with(present: set[str], pull_error: str | None) -> mock.Mock:
    client = mock.Mock()

    def get(ref: str) -> mock.Mock:
        if ref not in present:
            raise docker.errors.ImageNotFound(ref)
        return mock.Mock(id="sha256:x", labels={})

    client.images.get.side_effect = get
    client.api.timeout = 60

    def pull(repository: str, tag: str, **_: object) -> list[dict[str, str]]:
        if pull_error:
            raise docker.errors.APIError(pull_error, explanation=pull_error)
        present.add(f"{repository}:{tag}")
        return [{"status": "Downloaded"}]

    client.api.pull.side_effect = pull
    return client


def test_public_image_is_used_when_pullable() -> None:
    client = _client_with(set(), pull_error=None)
    assert base_image.ensure_base_image(client, None) == base_image.PUBLIC_BASE_IMAGE
    assert client.api.timeout == 60  # restored after the pull


def test_local_image_is_used_when_the_pull_fails() -> None:
    client = _client_with({base_image.LOCAL_BASE_IMAGE}, pull_error="no such host")
    with mock.patch.object(base_image, "build_local_base_image") as build:
        assert base_image.ensure_base_image(client, None) == base_image.LOCAL_BASE_IMAGE
    build.assert_not_called()


def test_local_image_is_built_when_nothing_else_exists() -> None:
    client = _client_with(set(), pull_error="no such host")
    with mock.patch.object(base_image, "build_local_base_image", return_value="built") as build:
        assert base_image.ensure_base_image(client, None) == "built"
    build.assert_called_once()


def test_preferred_image_that_cannot_be_had_is_an_error() -> None:
    client = _client_with(set(), pull_error="no such host")
    with pytest.raises(EnvironmentSetupError, match="vendor/base:1 .*no such host"):
        base_image.ensure_base_image(client, "vendor/base:1")


def test_base_build_runs_debootstrap_with_the_mirror_and_imports(tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        calls.append(argv)
        assert kwargs.get("check") is True
        return subprocess.CompletedProcess(argv, 0)

    with (
        mock.patch.object(base_image.shutil, "which", return_value="/usr/bin/x"),
        mock.patch.object(base_image.subprocess, "run", side_effect=run),
        mock.patch.object(base_image.subprocess, "Popen") as popen,
    ):
        popen.return_value.__enter__.return_value.returncode = 0
        popen.return_value.returncode = 0
        base_image.build_local_base_image(mock.Mock(), "x/base:t", mirror="http://m.example/debian")
    debootstrap, docker_import = calls
    assert debootstrap[:3] == [
        "debootstrap",
        "--variant=minbase",
        "--include=python3,python3-venv,git,ca-certificates",
    ]
    assert debootstrap[3] == "bookworm" and debootstrap[5] == "http://m.example/debian"
    assert not Path(debootstrap[4]).exists()  # the temp dir is gone
    assert docker_import[:2] == ["docker", "import"]
    assert 'CMD ["/bin/bash"]' in docker_import
    assert docker_import[-2:] == ["-", "x/base:t"]
