"""Reading desired state: parsing ApplicationDeployments and syncing a Git checkout."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from margo_agent.gitops import GitCheckout, GitError, load_deployments, parse_deployment
from margo_agent.wos_client import DesiredStateRepo

V24_EXAMPLE = """\
apiVersion: application.margo.org/v1alpha1
kind: ApplicationDeployment
metadata:
    annotations:
        applicationId: com-northstartida-digitron-orchestrator
        id: ad9b614e-8912-45f4-a523-372358765def
    name: com-northstartida-digitron-orchestrator-deployment
    namespace: margo-poc
spec:
    deploymentProfile:
        type: docker-compose
        components:
            - name: digitron-orchestrator-docker
              properties:
                keyLocation: https://northsitarida.com/digitron/docker/public-key.asc
                packageLocation: https://northsitarida.com/digitron/docker/digitron-orchestrator.tar.gz
    parameters:
        siteId:
            value: SID-123-ABC
            targets:
                - pointer: ENV.SITE_ID
                  components:
                    - digitron-orchestrator-docker
"""


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_pre_draft_example_parses(tmp_path: Path) -> None:
    write(tmp_path, "deployments/digitron.yaml", V24_EXAMPLE)
    (deployment,) = load_deployments(tmp_path).values()
    assert deployment.id == "ad9b614e-8912-45f4-a523-372358765def"
    assert deployment.profile_type == "docker-compose"
    assert [c.name for c in deployment.components] == ["digitron-orchestrator-docker"]
    assert deployment.components[0].properties["packageLocation"].endswith(".tar.gz")
    assert deployment.source == "deployments/digitron.yaml"


def test_documents_that_are_not_deployments_are_skipped(tmp_path: Path) -> None:
    write(tmp_path, "deployments/good.yaml", V24_EXAMPLE)
    write(tmp_path, "deployments/broken.yaml", "kind: [unclosed")
    write(tmp_path, "deployments/other.yaml", "kind: ConfigMap\n")
    write(tmp_path, "deployments/no-id.yaml", V24_EXAMPLE.replace("id: ad9b", "idx: ad9b"))
    write(tmp_path, "README.md", "not yaml")
    assert list(load_deployments(tmp_path)) == ["ad9b614e-8912-45f4-a523-372358765def"]


def test_any_edit_changes_the_digest() -> None:
    original = parse_deployment(yaml.safe_load(V24_EXAMPLE), "a.yaml")
    edited = parse_deployment(yaml.safe_load(V24_EXAMPLE.replace("SID-123", "SID-124")), "a.yaml")
    assert original.digest != edited.digest
    assert original.digest == parse_deployment(yaml.safe_load(V24_EXAMPLE), "b.yaml").digest


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A local repository standing in for the WOS's Git server (file:// ignores the token)."""
    repo = tmp_path / "origin"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    return repo


def test_clone_then_fetch_follows_additions_and_deletions(origin: Path, tmp_path: Path) -> None:
    repo = DesiredStateRepo(url=origin.as_uri(), branch="main", access_token="t")
    checkout = GitCheckout(tmp_path / "checkout")
    assert checkout.sync(repo) is None  # an empty repository is no desired state yet

    write(origin, "deployments/app.yaml", V24_EXAMPLE)
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "add app")
    first = checkout.sync(repo)
    assert first == git(origin, "rev-parse", "HEAD")
    assert len(load_deployments(checkout.path)) == 1

    git(origin, "rm", "-q", "deployments/app.yaml")
    git(origin, "commit", "-q", "-m", "remove app")
    assert checkout.sync(repo) not in (None, first)
    assert load_deployments(checkout.path) == {}


def test_unreachable_repository_is_a_git_error(tmp_path: Path) -> None:
    repo = DesiredStateRepo(url=(tmp_path / "nowhere").as_uri(), branch="main", access_token="t")
    checkout = GitCheckout(tmp_path / "checkout")
    with pytest.raises(GitError) as caught:
        checkout.sync(repo)
    assert not caught.value.refused
    assert not checkout.path.exists()  # no half clone left behind


@pytest.mark.parametrize(
    ("stderr", "refused"),
    [
        ("fatal: unable to access 'http://wos/x.git/': The requested URL returned error: 403", True),
        ("fatal: unable to access 'http://wos/x.git/': The requested URL returned error: 401", True),
        ("fatal: could not read Username for 'http://wos': terminal prompts disabled", True),
        ("fatal: '/tmp/pytest-of-root/pytest-403/nowhere' does not appear to be a git repository", False),
        ("fatal: unable to access 'http://host-401:8080/x.git/': Could not resolve host: host-401", False),
    ],
)
def test_refused_means_git_said_the_server_turned_the_credentials_down(stderr: str, refused: bool) -> None:
    assert GitError(["fetch"], 128, stderr).refused is refused
