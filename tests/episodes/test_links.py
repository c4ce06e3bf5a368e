"""Each stop's address: built once in episodes.links, used by the feed, the home page and the map."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from episodes.links import journey_slug, map_link
from tests.support import mapkit


@pytest.fixture(scope="module")
def mp3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mapkit.make_mp3(tmp_path_factory.mktemp("audio") / "tone.mp3", seconds=0.3)


def test_a_located_episode_has_a_stop_address(mp3: Path) -> None:
    ep = mapkit.episode(slug="a", mp3=mp3, journey="Balkan Route, 2023", number=4)
    assert map_link(ep) == "map/#balkan-route-2023/4"
    assert (
        map_link(ep, base_url="https://e.org/show/")
        == "https://e.org/show/map/#balkan-route-2023/4"
    )
    assert map_link(ep, page="map/index.html") == "map/index.html#balkan-route-2023/4"


def test_an_episode_off_the_map_has_none(mp3: Path) -> None:
    assert map_link(mapkit.episode(slug="a", mp3=mp3, lat=None, lon=None, number=1)) is None
    assert map_link(mapkit.episode(slug="a", mp3=mp3, number=None)) is None


def test_journey_slugs_are_stable_and_never_empty(mp3: Path) -> None:
    assert journey_slug("Białowieża  2021") == journey_slug(" białowieża 2021") == "bialowieza-2021"
    ep = mapkit.episode(slug="a", mp3=mp3, journey="", number=2)
    assert map_link(ep) == "map/#reports/2"
    assert map_link(dataclasses.replace(ep, journey="Харків")) == "map/#kharkiv/2"
