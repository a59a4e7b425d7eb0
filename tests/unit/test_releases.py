"""Build numbers compare by release; the static files of this build and the one before are kept."""

import json

import pytest

from webapp.releases import (
    KEPT_BUILDS,
    device_build,
    keep_static_release,
    kept_release,
    parse_min_build,
    release_of,
    static_build_id,
    too_old,
)


@pytest.mark.parametrize(("build", "release"), [
    ("3+9f2c01ab34cd", 3),
    ("12+9f2c01ab34cd", 12),
    ("3", 3),
    ("0+abc", 0),
    (" 4+abc ", 4),
    ("9f2c01ab34cd", None),  # a build from before release numbers: a bare content hash
    ("test", None),
    ("3+", 3),
    ("+3", None),
    ("3.1", None),
    ("", None),
    (None, None),
    (7, None),
])
def test_the_release_is_the_number_before_the_plus(build, release):
    assert release_of(build) == release


@pytest.mark.parametrize(("value", "parsed"), [
    ("", None), ("  ", None), (None, None), ("5", 5), ("5+abc", 5), (5, 5), (0, 0),
])
def test_min_build_is_a_release_number_or_nothing(value, parsed):
    assert parse_min_build(value) == parsed


@pytest.mark.parametrize("value", ["five", "v5", "-1", -1, True, 2.5, "5.0"])
def test_a_min_build_that_is_not_a_release_number_stops_the_server(value):
    with pytest.raises(ValueError, match="MIN_BUILD"):
        parse_min_build(value)


@pytest.mark.parametrize(("build", "min_build", "old"), [
    ("3+abc", None, False),
    ("3+abc", 3, False),
    ("4+abc", 3, False),
    ("2+abc", 3, True),
    ("9f2c01ab34cd", 1, True),  # no release number: older than any
    (None, 1, True),
    (None, None, False),
    ("0+abc", 0, False),
])
def test_a_build_below_min_build_is_too_old(build, min_build, old):
    assert too_old(build, min_build) is old


def test_the_device_build_carries_release_and_hash():
    assert device_build(3, "9f2c01ab34cd") == "3+9f2c01ab34cd"
    assert release_of(device_build(3, "9f2c01ab34cd")) == 3


def _static(tmp_path, name: str, app_js: str):
    folder = tmp_path / name
    (folder / "js").mkdir(parents=True)
    (folder / "js" / "app.js").write_text(app_js)
    (folder / "css").mkdir()
    (folder / "css" / "app.css").write_text("body {}")
    return folder


def test_the_build_id_changes_with_any_static_file(tmp_path):
    a = static_build_id(_static(tmp_path, "a", "one"))
    assert a == static_build_id(_static(tmp_path, "a2", "one"))
    assert a != static_build_id(_static(tmp_path, "b", "two"))
    assert len(a) == 12 and int(a, 16) >= 0


def test_this_build_and_the_one_before_are_kept_and_older_ones_deleted(tmp_path):
    releases = tmp_path / "static-releases"
    builds = []
    for n, text in enumerate(["one", "two", "three"]):
        static = _static(tmp_path, f"s{n}", text)
        builds.append(static_build_id(static))
        kept = keep_static_release(static, releases, builds[-1])
        assert kept == builds[-KEPT_BUILDS:]
    a, b, c = builds
    assert kept_release(releases, a) is None and not (releases / a).exists()
    assert (kept_release(releases, b) / "js" / "app.js").read_text() == "two"
    assert (kept_release(releases, c) / "js" / "app.js").read_text() == "three"
    assert json.loads((releases / "releases.json").read_text()) == [b, c]


def test_restarting_the_same_build_keeps_the_one_before(tmp_path):
    releases = tmp_path / "static-releases"
    one, two = _static(tmp_path, "one", "one"), _static(tmp_path, "two", "two")
    a, b = static_build_id(one), static_build_id(two)
    keep_static_release(one, releases, a)
    keep_static_release(two, releases, b)
    assert keep_static_release(two, releases, b) == [a, b]  # every worker and every restart runs this


def test_a_rollback_makes_the_older_build_the_newest_again(tmp_path):
    releases = tmp_path / "static-releases"
    one, two = _static(tmp_path, "one", "one"), _static(tmp_path, "two", "two")
    a, b = static_build_id(one), static_build_id(two)
    keep_static_release(one, releases, a)
    keep_static_release(two, releases, b)
    assert keep_static_release(one, releases, a) == [b, a]


@pytest.mark.parametrize("name", ["../etc", "ABCDEF012345", "abc", "0123456789abc", ""])
def test_only_build_ids_name_kept_folders(tmp_path, name):
    (tmp_path / "abc").mkdir()
    assert kept_release(tmp_path, name) is None
