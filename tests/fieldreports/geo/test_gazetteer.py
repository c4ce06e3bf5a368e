"""The offline gazetteer: small places, spellings, reverse look-ups, text mentions, coarsening."""

from __future__ import annotations

import pytest

from fieldreports.geo.coarsen import coarsen, grid_centre
from fieldreports.geo.coordinates import distance_km
from fieldreports.geo.gazetteer import Gazetteer, load_gazetteer

# Reference points for the routes' places, taken independently of GeoNames (Wikipedia's
# coordinates for each village or town, rounded to 0.01°).
SEED_PLACES = {
    "Lampedusa": ("IT", 35.50, 12.61),
    "Röszke": ("HU", 46.19, 20.04),
    "Białowieża": ("PL", 52.70, 23.87),
    "Terespol": ("PL", 52.08, 23.62),
    "Idomeni": ("GR", 41.12, 22.52),
    "Horgoš": ("RS", 46.16, 19.97),
    "Bihać": ("BA", 44.82, 15.87),
    "Subotica": ("RS", 46.10, 19.67),
    "Sfax": ("TN", 34.74, 10.76),
    "Kuźnica": ("PL", 53.51, 23.65),
    "Mytilene": ("GR", 39.11, 26.55),
}


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return load_gazetteer()


@pytest.mark.parametrize("name", sorted(SEED_PLACES))
def test_seed_places_resolve_within_15_km(gazetteer: Gazetteer, name: str) -> None:
    country, lat, lon = SEED_PLACES[name]
    places = gazetteer.lookup(name, countries=[country])
    assert places, f"{name} not in the gazetteer"
    assert distance_km(places[0].lat, places[0].lon, lat, lon) < 15


def test_an_island_resolves_to_the_island(gazetteer: Gazetteer) -> None:
    (lesbos,) = gazetteer.lookup("Lesbos")
    assert lesbos.country_code == "GR"
    # The island is about 70 km across; its main town lies on it.
    assert distance_km(lesbos.lat, lesbos.lon, 39.11, 26.55) < 40
    assert lesbos.accuracy_m >= 20_000


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("Bialowieza", "Białowieża"),
        ("BIAŁOWIEŻA", "Białowieża"),
        ("roszke", "Röszke"),
        ("Horgos", "Horgoš"),
        ("Bihac", "Bihać"),
        ("Kuznica", "Kuźnica"),
        ("Lesvos", "Lesbos"),
        ("Λέσβος", "Lesbos"),
        ("Szabadka", "Subotica"),  # the Hungarian name
        ("Grodno", "Hrodna"),  # the Russian and Polish name
        ("Eidomeni", "Idomeni"),
    ],
)
def test_matches_without_diacritics_and_by_alternate_names(
    gazetteer: Gazetteer, written: str, meant: str
) -> None:
    assert meant in [p.name for p in gazetteer.lookup(written)]


def test_an_ambiguous_name_lists_every_place(gazetteer: Gazetteer) -> None:
    countries = {p.country_code for p in gazetteer.lookup("Samos")}
    assert {"GR", "ES", "RS"} <= countries  # Samoš in Serbia folds to "samos" too
    assert [p.country_code for p in gazetteer.lookup("Samos", countries=["RS"])] == ["RS"]


def test_unknown_name_finds_nothing(gazetteer: Gazetteer) -> None:
    assert gazetteer.lookup("Xyzzyvillage") == ()


def test_describe_names_the_nearest_town(gazetteer: Gazetteer) -> None:
    name, place = gazetteer.describe(52.0705, 23.6010)  # the road west of the crossing
    assert name == "near Terespol, Poland"
    assert place is not None and place.country_code == "PL"
    assert gazetteer.describe(0.0, -30.0)[1] is None  # mid-Atlantic: only coordinates


def test_country_at(gazetteer: Gazetteer) -> None:
    assert gazetteer.country_at(46.19, 20.04) == "HU"
    assert gazetteer.country_at(35.50, 12.61) == "IT"
    assert gazetteer.country_code("Poland") == "PL"
    assert gazetteer.country_code("hu") == "HU"
    assert gazetteer.country_code("Atlantis") == ""


def test_mentions_in_free_text(gazetteer: Gazetteer) -> None:
    text = (
        "And so we drove from Terespol along the border to Białowieża. The forest is quiet. "
        "My fellow Americans, ask not what your Country can do for you."
    )
    found = gazetteer.mentions(text, countries=["PL", "BY"])
    assert [m.text for m in found] == ["Terespol", "Białowieża"]
    assert gazetteer.mentions(text, countries=[]) == []  # no journey, no guessing


def test_coarsen_to_a_town_is_at_least_5_km_away(gazetteer: Gazetteer) -> None:
    lat, lon = 52.0755, 23.51  # fields 7 km west of Terespol
    coarse = coarsen(lat, lon, gazetteer=gazetteer, cell_km=10.0)
    assert coarse.method == "town" and coarse.town == "Terespol, Poland"
    assert distance_km(lat, lon, coarse.lat, coarse.lon) >= 5


def test_coarsen_to_the_grid_is_stable(gazetteer: Gazetteer) -> None:
    # Deep in the Białowieża forest, over 10 km from any town of 5000.
    a = coarsen(52.78, 23.90, gazetteer=gazetteer, cell_km=10.0)
    b = coarsen(52.781, 23.901, gazetteer=gazetteer, cell_km=10.0)
    assert a.method == "grid"
    assert (a.lat, a.lon) == (b.lat, b.lon)  # the same spot always publishes the same point
    assert distance_km(52.78, 23.90, a.lat, a.lon) < 10 / 2**0.5 + 0.5
    assert (a.lat, a.lon) == grid_centre(52.78, 23.90, 10.0)


def test_the_built_index_round_trips_through_the_cache(tmp_path) -> None:
    from fieldreports.geo.gazetteer import _load_index, _save_index

    rows = [
        ("Röszke", "HU", 46.19, 20.03, 3241, 0.0, False, ("Roszke", "Röske")),
        ("Lesbos", "GR", 39.17, 26.33, 0, 35000.0, True, ("Lesvos", "Λέσβος")),
    ]
    countries = {"HU": "Hungary", "GR": "Greece"}
    small = Gazetteer(rows, countries)
    path = tmp_path / "cache" / "gazetteer-test.marshal"
    _save_index(path, small)
    loaded = _load_index(path, countries)
    assert loaded is not None and len(loaded) == 2
    assert loaded.lookup("Röske") == small.lookup("roszke")
    assert loaded.lookup("lesvos")[0].accuracy_m == 35000.0
    assert loaded.describe(46.2, 20.0)[0] == "near Röszke, Hungary"
    path.write_bytes(b"not an index")
    assert _load_index(path, countries) is None  # rebuilt, not trusted
    assert _load_index(tmp_path / "missing.marshal", countries) is None
