"""The fixture README must list exactly the files that exist (no stale entries)."""

import re

from tests.helpers import FIXTURES


def test_readme_lists_every_hyperliquid_fixture_and_nothing_else():
    root = FIXTURES / "hyperliquid"
    listed = set(re.findall(r"`((?:ws|http)/[^`]+\.json)`", (root / "README.md").read_text()))
    present = {str(p.relative_to(root)) for p in root.rglob("*.json")}
    assert listed == present
