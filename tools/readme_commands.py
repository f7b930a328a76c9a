"""Print the commands of the README's Quick start, one per line, in order.

CI (`.ci/run`) and the fresh-machine check run the README's commands as written, taken from
the README itself, so the two cannot drift apart. The commands are the lines of the `sh`
blocks under "## Quick start" (the first sets up and certifies, the second is the test command).

    python3 tools/readme_commands.py            # every Quick start command
    python3 tools/readme_commands.py --test     # the test command only
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "## Quick start"


def quick_start_commands(readme: str) -> list[str]:
    """The lines of the sh blocks of the Quick start section (up to the next `## ` heading)."""
    start = readme.index(SECTION) + len(SECTION)
    following = re.search(r"^## ", readme[start:], re.M)
    section = readme[start : start + following.start()] if following else readme[start:]
    blocks = re.findall(r"^```sh\n(.*?)^```$", section, re.M | re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def main(argv: list[str]) -> int:
    commands = quick_start_commands(README.read_text())
    if len(commands) != 2:
        print(f"README Quick start: expected two commands, found {len(commands)}", file=sys.stderr)
        return 1
    print(commands[1] if "--test" in argv else "\n".join(commands))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
