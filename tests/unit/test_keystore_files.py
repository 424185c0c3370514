"""Fuzz the keystore file `pairflow trade` and `pairflow run execution` unlock: the key, or one line saying why not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pairflow.errors import ConfigError
from pairflow.hyperliquid.keystore import new_key, unlock

PASSPHRASE = "correct horse"
# Small integers only: a keystore's scrypt cost parameters are integers, and a drawn 2**30 would take minutes.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 64) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def keystore(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, bytes]:
    directory = tmp_path_factory.mktemp("keys")
    address = new_key(directory, PASSPHRASE)
    path = directory / f"{address.lower()}.json"
    return json.loads(path.read_text()), unlock(path, PASSPHRASE)


def paths(value: object, prefix: tuple = ()) -> list[tuple]:
    if isinstance(value, dict):
        return [prefix] + [path for key, item in value.items() for path in paths(item, (*prefix, key))]
    return [prefix]


def spoilt(document: dict, path: tuple, replacement: object) -> object:
    if not path:
        return replacement
    copy = json.loads(json.dumps(document))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = replacement
    return copy


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_keystore_file_unlocks_or_is_refused_in_one_line(keystore: tuple[dict, bytes], tmp_path: Path,
                                                            data: st.DataObject) -> None:
    """A damaged file ended `run execution` with eth-account's KeyError or TypeError traceback."""
    document, key = keystore
    path = tmp_path / "keystore.json"
    where = data.draw(st.sampled_from(paths(document)))
    path.write_text(json.dumps(spoilt(document, where, data.draw(json_values))))
    try:
        unlocked = unlock(path, PASSPHRASE)
    except ConfigError as error:
        assert "\n" not in str(error) and str(path) in str(error)
    else:
        assert unlocked == key


@pytest.mark.parametrize("content", ["{}", "[]", '"x"', '{"version": 3, "crypto": {}}', '{"crypto": {"kdf": "scrypt"}}'])
def test_a_file_that_is_no_keystore_is_named_in_one_line(tmp_path: Path, content: str) -> None:
    path = tmp_path / "keystore.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=f"{path} is (not a keystore|damaged)"):
        unlock(path, PASSPHRASE)
