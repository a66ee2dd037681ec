from corpus.documents import Document
from index.chunking import chunk_document, chunker_fingerprint, split_sentences
from index.text import analyze, fold, words


def spans(text):
    return [text[s.start : s.end] for s in split_sentences(text)]


def test_elisions_accents_and_stop_words():
    assert words("L’IA d’Inria qu’il faut") == ["ia", "inria", "il", "faut"]
    assert fold("Équipé à Orsay") == "equipe a orsay"
    # accented text gets the proper stem and the accent-free one, so both spellings meet
    assert analyze("Quel est le budget de l'électricité ?") == ["budget", "electr", "electricit"]
    assert set(analyze("budget electricite")) <= set(analyze("le budget de l'électricité"))
    assert analyze("exploitée")[0] == analyze("exploite")[0] == "exploit"
    assert "le" not in analyze("le budget")


def test_abbreviations_and_initials_do_not_end_sentences():
    text = "M. Dupont dirige p. ex. le projet. J. Atif est cité. Le budget vaut 3.5 M€. Fin."
    assert spans(text) == ["M. Dupont dirige p. ex. le projet.", "J. Atif est cité.", "Le budget vaut 3.5 M€.", "Fin."]


def test_names_with_punctuation_are_not_cut():
    assert spans("Le cluster Hi! PARIS reçoit 70 M€. Fin.") == ["Le cluster Hi! PARIS reçoit 70 M€.", "Fin."]


def test_quotes_questions_and_paragraphs():
    text = "Il a dit « oui ». Pourquoi ? Parce que.\n\nNouveau paragraphe sans point\n\nfin de la phrase coupée."
    assert spans(text) == [
        "Il a dit « oui ».", "Pourquoi ?", "Parce que.",
        "Nouveau paragraphe sans point\n\nfin de la phrase coupée.",
    ]


def make_doc(text):
    return Document("doc", "Titre", text, "https://example.org", "h")


def test_chunks_are_exact_slices_with_stable_ids_and_sections():
    body = "Titre\n\nPremière partie\n\n" + " ".join(f"Phrase numéro {i} du texte." for i in range(40))
    body += "\n\nSeconde partie\n\nUne phrase finale."
    doc = make_doc(body)
    chunks = chunk_document(doc, max_chars=200, overlap=1)
    again = chunk_document(doc, max_chars=200, overlap=1)
    assert [c.chunk_id for c in chunks] == [c.chunk_id for c in again]
    for c in chunks:
        assert body[c.start : c.end] == c.text
        assert len(c.text) <= 200 or len(c.sentences) == 1
        assert all(c.text[a:b].strip() == c.text[a:b] for a, b in c.sentences)
    assert chunks[0].section == "Première partie" and chunks[-1].section == "Seconde partie"
    assert "Titre" not in chunks[0].text  # the title line is metadata
    # overlap: each chunk of a section starts with the last sentence of the previous one
    first, second = chunks[0], chunks[1]
    assert first.sentence_texts()[-1] == second.sentence_texts()[0]


def test_fingerprint_follows_settings():
    assert chunker_fingerprint(700, 1) == chunker_fingerprint(700, 1)
    assert chunker_fingerprint(700, 1) != chunker_fingerprint(500, 1)
