"""Chapters with waypoints: a report recorded on the move traces its route, chapter by chapter."""

from __future__ import annotations

import dataclasses
import json

from episodes.episode import Episode
from episodes.feed.chapters import render_chapters
from tests.support.episodes import LAMPEDUSA, make_show_episodes, show_config


def walking(episode: Episode) -> Episode:
    # Three chapters (0, 80 and 120 s: starts at least 60 s apart) along a walk.
    segments = (
        (0.0, 40.0, "Leaving the harbour"),
        (80.0, 120.0, "On the pier"),
        (160.0, 200.0, "At the boats"),
    )
    waypoints = ((0.0, 35.4990, 12.6060), (80.0, 35.5010, 12.6100), (160.0, 35.5030, 12.6140))
    return dataclasses.replace(
        episode, segments=segments, waypoints=waypoints, location=LAMPEDUSA.public()
    )


def test_each_chapter_sits_where_the_reporter_was(tmp_path) -> None:
    config = show_config(tmp_path / "show")
    episode = walking(make_show_episodes(config, tmp_path)[0])
    document = json.loads(render_chapters(episode, podcast_name="Show"))
    assert document["waypoints"] is True
    geos = [c["location"]["geo"] for c in document["chapters"]]
    assert [c["startTime"] for c in document["chapters"]] == [0, 80.0, 160.0]
    assert geos == ["geo:35.499,12.606", "geo:35.501,12.61", "geo:35.503,12.614"]


def test_without_waypoints_every_chapter_is_at_the_public_point(tmp_path) -> None:
    config = show_config(tmp_path / "show")
    episode = dataclasses.replace(walking(make_show_episodes(config, tmp_path)[0]), waypoints=())
    document = json.loads(render_chapters(episode, podcast_name="Show"))
    assert {c["location"]["geo"] for c in document["chapters"]} == {"geo:35.5,12.6"}
