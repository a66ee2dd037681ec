from assistant.lexicon import expand


def test_everyday_words_reach_the_corpus_vocabulary():
    assert "Lyon" in expand("Quelle somme le pôle lyonnais a-t-il obtenue ?")
    assert "cluster" in expand("Quelle somme le pôle lyonnais a-t-il obtenue ?")
    assert "Emmanuel Macron" in expand("Quand le chef de l'État a-t-il parlé ?")
    assert "supercalculateur" in expand("Où tourne la grosse machine ?")


def test_nothing_added_when_nothing_applies():
    assert expand("Quel est le budget du PEPR IA ?") == ""
    assert "cluster" not in expand("Le pôle emploi est-il concerné ?")
