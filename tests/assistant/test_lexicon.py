from assistant.query.lexicon import expand as expand_query
from assistant.query.parse import read


def expand(text: str) -> str:
    return expand_query(read(text))


def test_everyday_words_reach_the_corpus_vocabulary():
    assert "Lyon" in expand("Quelle somme le pôle lyonnais a-t-il obtenue ?")
    assert "cluster" in expand("Quelle somme le pôle lyonnais a-t-il obtenue ?")
    assert "Emmanuel Macron" in expand("Quand le chef de l'État a-t-il parlé ?")
    assert "supercalculateur" in expand("Où tourne la grosse machine ?")


def test_nothing_added_when_nothing_applies():
    assert expand("Quel est le budget du PEPR IA ?") == ""
    assert "cluster" not in expand("Le pôle emploi est-il concerné ?")


def test_english_questions_get_french_words_french_ones_do_not():
    extra = expand("Can a private company get computing time on Jean Zay?")
    assert "entreprise" in extra and "calcul" in extra and "heures" in extra
    assert "entreprise" not in expand("Une société peut-elle calculer sur Jean Zay ?")


def test_who_started_something_reaches_a_l_initiative_de():
    assert "initiative" in expand("Qui a porté le préGDR sur le traitement des langues ?")

