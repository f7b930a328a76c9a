"""Writing desired state (GIT-001, GIT-002): one bare repository per device, branch main.

The WOS never edits a bare repository directly. It commits in a private working clone and
pushes with the git CLI, the same way an operator's tooling would, so every change is an
ordinary commit the device can fetch.

    repos/<deviceId>.git   bare repository served to the device over smart HTTP
    work/<deviceId>/       the WOS's own working clone
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

BRANCH = "main"
AUTHOR = ("-c", "user.name=Margo reference WOS", "-c", "user.email=wos@margo-reference.invalid")


class GitError(RuntimeError):
    pass


class Repositories:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "repos"
        self._work = data_dir / "work"
        self.root.mkdir(parents=True, exist_ok=True)
        self._work.mkdir(parents=True, exist_ok=True)
        # One writer at a time: two deploys to one device must not interleave in its clone.
        self._lock = asyncio.Lock()
        # Keep the operator's own git configuration out of what the WOS writes.
        self._env = {
            **os.environ,
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(data_dir),
            "GIT_TERMINAL_PROMPT": "0",
        }

    def bare(self, device_id: str) -> Path:
        return self.root / f"{device_id}.git"

    async def create(self, device_id: str) -> None:
        """A bare repository whose main branch exists from the start, so the first clone works."""
        async with self._lock:
            bare, work = self.bare(device_id), self._work / device_id
            if bare.exists():
                return
            await self._git(
                None, "init", "--quiet", "--bare", f"--initial-branch={BRANCH}", str(bare)
            )
            await self._git(None, "init", "--quiet", f"--initial-branch={BRANCH}", str(work))
            await self._git(work, "remote", "add", "origin", str(bare))
            await self._git(
                work,
                "commit",
                "--quiet",
                "--allow-empty",
                "-m",
                f"Desired state of device {device_id}",
            )
            await self._git(work, "push", "--quiet", "origin", BRANCH)

    async def write(self, device_id: str, path: str, content: str, message: str) -> None:
        async with self._lock:
            work = await self._synced_clone(device_id)
            target = work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
            await self._git(work, "add", "--", path)
            await self._commit_and_push(work, message)

    async def delete(self, device_id: str, path: str, message: str) -> None:
        async with self._lock:
            work = await self._synced_clone(device_id)
            if not (work / path).exists():
                return
            await self._git(work, "rm", "--quiet", "--", path)
            await self._commit_and_push(work, message)

    async def _synced_clone(self, device_id: str) -> Path:
        """The working clone at the tip of the bare repository (re-cloned if it went missing)."""
        work = self._work / device_id
        if not (work / ".git").exists():
            await self._git(
                None, "clone", "--quiet", "--branch", BRANCH, str(self.bare(device_id)), str(work)
            )
        await self._git(work, "fetch", "--quiet", "origin")
        await self._git(work, "reset", "--quiet", "--hard", f"origin/{BRANCH}")
        return work

    async def _commit_and_push(self, work: Path, message: str) -> None:
        try:
            await self._git(work, "commit", "--quiet", "-m", message)
            await self._git(work, "push", "--quiet", "origin", f"HEAD:{BRANCH}")
        except GitError:
            # Leave the clone as the bare repository has it, so the next change starts clean.
            await self._git(work, "reset", "--quiet", "--hard", f"origin/{BRANCH}")
            raise

    async def _git(self, cwd: Path | None, *args: str) -> None:
        process = await asyncio.create_subprocess_exec(
            "git",
            *AUTHOR,
            *args,
            cwd=cwd,
            env=self._env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await process.communicate()
        if process.returncode != 0:
            raise GitError(f"git {args[0]} failed: {err.decode(errors='replace').strip()}")
