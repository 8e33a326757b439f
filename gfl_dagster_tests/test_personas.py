"""The simulated users' personas are data (feedback/personas.toml, or another file in its format): read, checked
with errors that name the file, the persona and the key, and the people `gfl simulate --users` makes are theirs."""

import random

import pytest
from click.testing import CliRunner

from gfl_dagster.ads.audiences import load_audiences
from gfl_dagster.cli.main import cli
from gfl_dagster.feedback.impressions import Signer
from gfl_dagster.feedback.personas import DEFAULT_PERSONAS, Persona, load_personas
from gfl_dagster.feedback.simulated_users import User, fit, make_users
from gfl_dagster.listings.amenities import default_amenity_map
from gfl_dagster.listings.csv_rows import ROOM_TYPES

SIGNER = Signer(b"k" * 32)
GOOD = '''
[[persona]]
audience = "young_couple"
sentence = "romantic place for two in {area}"
room_types = ["Entire home/apt"]
'''


def test_the_shipped_personas_load_and_name_only_what_the_project_knows():
    personas = load_personas()
    audiences = {audience.slug for audience in load_audiences()[0]}
    features = set(default_amenity_map().names)
    assert len(personas) >= 5 and {persona.audience for persona in personas} == audiences
    for persona in personas:
        assert set(persona.room_types) <= set(ROOM_TYPES) and set(persona.features) <= features, persona
        assert "Brooklyn" in persona.sentence.format(area="Brooklyn"), persona
    assert DEFAULT_PERSONAS.parent.joinpath("market_truth.toml").exists(), "beside the market's truth"


def test_another_personas_file_makes_other_people_who_want_other_things(tmp_path):
    path = tmp_path / "people.toml"
    path.write_text('''
[[persona]]
audience = "older_couple"
sentence = "hotel room with a gym in {area}"
room_types = ["Hotel room"]
max_price = 400
min_rating = 4.9
features = ["gym"]
''', encoding="utf-8")
    personas = load_personas(path)
    assert personas == (Persona("older_couple", "hotel room with a gym in {area}", ("Hotel room",), 400.0, None,
                                4.9, ("gym",)),)
    people = make_users(12, ["Brooklyn", "Manhattan", "Queens"], personas, random.Random(1), SIGNER)
    assert {person.persona for person in people} == set(personas)
    assert {person.area for person in people} <= {"Brooklyn", "Manhattan"}, "the two busiest areas"
    hotel = {"neighbourhood_group": "Brooklyn", "room_type": "Hotel room", "price": 300, "review_scores_rating": 4.95,
             "amenity_features": ["gym", "wifi"]}
    theirs = User("sim-1", personas[0], "Brooklyn", "s")
    shipped = User("sim-2", next(p for p in load_personas() if p.audience == "older_couple"), "Brooklyn", "s")
    assert fit(hotel, theirs) == 1.0 and fit(hotel, shipped) < 1.0, "what fits follows the file"
    assert fit({**hotel, "amenity_features": ["wifi"]}, theirs) == 4 / 5


def _persona_file(tmp_path, second: str) -> str:
    path = tmp_path / "personas.toml"
    path.write_text(GOOD + "\n[[persona]]\n" + second, encoding="utf-8")
    return str(path)


BASE = 'sentence = "cheap room in {area}"\nroom_types = ["Private room"]\n'


@pytest.mark.parametrize("second, message", [
    ('audience = "budget_backpacker"\n' + BASE + "max_prise = 80\n",
     "persona #2 (budget_backpacker): unknown key 'max_prise'"),
    ('audience = "tourists"\n' + BASE, "persona #2 (tourists): unknown audience 'tourists'"),
    ('audience = "budget_backpacker"\nsentence = "cheap room in {area}"\nroom_types = ["Private Room"]\n',
     "persona #2 (budget_backpacker): unknown room type(s) ['Private Room']"),
    ('audience = "budget_backpacker"\nroom_types = ["Private room"]\n', "persona #2 (budget_backpacker): sentence "
     "missing or empty"),
    ('audience = "budget_backpacker"\nsentence = "cheap room in {city}"\nroom_types = ["Private room"]\n',
     "persona #2 (budget_backpacker): sentence 'cheap room in {city}': the only placeholder is {area}, got {city}"),
    ('audience = "budget_backpacker"\nsentence = "cheap room in {area"\nroom_types = ["Private room"]\n',
     "persona #2 (budget_backpacker): sentence 'cheap room in {area'"),
    ('audience = "budget_backpacker"\n' + BASE + "max_price = -80\n",
     "persona #2 (budget_backpacker): max_price must be a positive number, got -80"),
    ('audience = "budget_backpacker"\n' + BASE + "min_rating = 47\n",
     "persona #2 (budget_backpacker): min_rating must be a number between 0 and 5, got 47"),
    ('audience = "budget_backpacker"\n' + BASE + "min_guests = true\n",
     "persona #2 (budget_backpacker): min_guests must be a positive whole number, got True"),
    ('audience = "budget_backpacker"\n' + BASE + 'features = ["wi-fi"]\n',
     "persona #2 (budget_backpacker): unknown amenity feature(s) ['wi-fi']"),
    ('audience = "budget_backpacker"\n' + BASE + 'max_price = \n', "not valid TOML"),
])
def test_a_bad_persona_is_an_error_naming_the_file_the_persona_and_the_key(tmp_path, second, message):
    path = _persona_file(tmp_path, second)
    with pytest.raises(ValueError) as error:
        load_personas(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value), str(error.value)
    # `gfl simulate` refuses it before it opens the database or makes anyone up.
    result = CliRunner().invoke(cli, ["simulate", "--users", "2", "--personas", path])
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output


@pytest.mark.parametrize("content, message", [
    ("", "no personas: expected [[persona]] tables"),
    ("[persona]\naudience = 'young_couple'\n", "no personas: expected [[persona]] tables"),
    (GOOD + "[people]\n", "unknown top-level key(s) people (known: persona)"),
])
def test_a_file_without_personas_is_refused(tmp_path, content, message):
    path = tmp_path / "personas.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=None) as error:
        load_personas(path)
    assert message in str(error.value), str(error.value)


def test_the_personas_option_describes_simulated_people_only(tmp_path):
    path = tmp_path / "personas.toml"
    path.write_text(GOOD, encoding="utf-8")
    result = CliRunner().invoke(cli, ["simulate", "--personas", str(path), "--duration", "1"])
    assert result.exit_code == 2 and "use them with --users" in result.output, result.output
    assert "--personas" in CliRunner().invoke(cli, ["simulate", "--help"]).output
