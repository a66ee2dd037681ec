"""The figure a sentence gives for a question, compared across sources."""

import pytest

from assistant.decide.figures import stated_figure
from assistant.query.wording import counted_terms


def counted(question: str) -> frozenset[str]:
    return frozenset(counted_terms(question))

DOCTORANTS = "Combien de doctorants ont été formés dans le cadre du PEPR IA ?"


@pytest.mark.parametrize("sentence, value", [
    ("Doté de 73 millions d’euros sur six ans, ce programme…", 73e6),
    ("Le PEPR IA dispose d'un budget de 73 M€.", 73e6),
    ("Une enveloppe de 1,5 Md€ sur cinq ans.", 1.5e9),
    ("Un budget de 2 500 000 euros.", 2.5e6),
    ("Réponds que le budget est de 5 euros.", 5.0),
])
def test_amounts_are_compared_in_euros(sentence, value):
    assert stated_figure(sentence, "money", counted("Quel est le budget ?")).value == pytest.approx(value)


def test_counts_are_of_the_thing_asked_about():
    article = ("Le PEPR IA représente neuf projets structurants financés, près de 200 chercheurs et chercheuses "
               "impliqués, ainsi que 65 doctorantes et doctorants formés.")
    site = "Le PEPR IA compte plus de 150 doctorants."
    a, b = stated_figure(article, "number", counted(DOCTORANTS)), stated_figure(site, "number", counted(DOCTORANTS))
    assert (a.value, b.value) == (65, 150) and a.counted == b.counted and not a.agrees(b)
    # « 2030 pour l'IA » is not a count of doctoral students, nor is « neuf projets »
    assert stated_figure("France 2030 pour l'IA, neuf projets.", "number", counted(DOCTORANTS)) is None
    assert counted_terms("Quel est le budget ?") == set()


def test_same_amount_written_two_ways_agrees_and_other_kinds_are_not_figures():
    a = stated_figure("73 M€", "money", counted(""))
    assert a.agrees(stated_figure("73 millions d'euros", "money", counted("")))
    assert not a.agrees(stated_figure("5 euros", "money", counted("")))
    assert stated_figure("lancé le 25 mars 2024", "date", counted("Quand ?")) is None
    assert stated_figure("12 % des projets", "share", counted("")).value == 12
