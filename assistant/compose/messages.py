"""Every text the assistant itself writes into an answer, in French and English: the abstention, the request for a
subject, the lead of several values, the notices above extracts that replace a generated answer. (The web page's own
texts are in ui/texts.py.)"""

ABSTAIN_FR = "Je ne trouve pas cette information dans le corpus."
ABSTAIN_EN = "I cannot find this information in the corpus."
NEEDS_CONTEXT_FR = ("Votre question renvoie à une question précédente (« {word} ») que je n'ai pas : précisez de quoi "
                    "vous parlez, par exemple « Quel est le budget du PEPR IA ? ».")
NEEDS_CONTEXT_EN = ("Your question refers to an earlier one (“{word}”) that I do not have: say what you are asking "
                    "about, for instance “What is the budget of the PEPR IA?”.")

# A refusal beside what the corpus holds nearby (assistant/decide/nearby.py): what was not found, for which names,
# then where the quoted sentence comes from.
NEAR_MISS = {
    "fr": {"lead": "Le corpus ne donne pas {what}{about}.", "about": " pour {names}", "and": " ni ",
           "record": "Il indique en revanche, pour {title} :", "document": "Il indique en revanche, dans « {title} » :",
           "what": {"money": "ce montant", "date": "cette date", "number": "ce nombre", "count": "ce nombre", "share": "cette part",
                    "duration": "cette durée"}},
    "en": {"lead": "The corpus does not give {what}{about}.", "about": " for {names}", "and": " or ",
           "record": "It does state, for {title}:", "document": "It does state, in “{title}”:",
           "what": {"money": "this amount", "date": "this date", "number": "this figure", "count": "this figure", "share": "this share",
                    "duration": "this duration"}},
}

# Said before values that differ by source, by date or by what they count: each one follows with its own source.
DISAGREEMENT_FR = "Les sources donnent plusieurs valeurs :"
DISAGREEMENT_EN = "The sources give several values:"

# Shown above the extracts when they stand instead of a generated answer.
NOTICES = {
    "fr": {
        "backend": "Génération indisponible ({detail}) : voici les extraits des sources.",
        "unsupported": "La réponse rédigée n'était pas entièrement appuyée par les sources ; voici les extraits.",
        "declined": "Le modèle n'a pas trouvé la réponse dans les passages ; voici les extraits les plus proches.",
        "several_values": "Les sources donnent plusieurs valeurs : voici chacune avec sa source, sans réécriture.",
    },
    "en": {
        "backend": "Generation unavailable ({detail}): here are the source extracts.",
        "unsupported": "The written answer was not fully supported by the sources; here are the extracts.",
        "declined": "The model found no answer in the passages; here are the closest extracts.",
        "several_values": "The sources give several values: here is each one with its source, not rewritten.",
    },
}
