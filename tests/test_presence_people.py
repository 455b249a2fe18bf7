"""How a person shows in a board's presence list: the avatar's initials."""

from __future__ import annotations

import pytest

from boards.presence import Person


@pytest.mark.parametrize(("name", "initials"), [
    ("Fiona Keller", "FK"),
    ("Nadia (boutique)", "NB"),
    ("  léa   favre  ", "LF"),
    ("Jean-Marc de la Tour", "JD"),
    ("— Sam", "S"),
    ("❤", "?"),
])
def test_it_takes_the_first_letters_of_a_name_for_its_initials(name, initials):
    assert Person(1, name, "participant", "boutique").initials == initials
