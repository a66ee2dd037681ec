"""What the page says, in French and in English."""

TEXTS = {
    "fr": {
        "title": "Le CNRS et l'intelligence artificielle — assistant sourcé",
        "intro": ("Posez vos questions sur l'action du CNRS en IA et sur la recherche française en IA (PEPR IA, "
                  "AISSAI, Jean Zay, clusters IA…). Chaque réponse cite ses sources ; sans appui dans le corpus, "
                  "l'assistant le dit."),
        "chat": "Conversation", "placeholder": "Votre question…", "send": "Envoyer",
        "new": "Nouvelle conversation", "examples": "Pour commencer", "settings": "Réglages",
        "mode": "Mode de réponse", "top_k": "Passages consultés", "comment": "Commentaire sur la dernière réponse "
        "(facultatif, envoyé avec votre vote)", "sources": "Sources", "no_sources": "*Les sources de la dernière réponse "
        "s'afficheront ici.*", "admin": "Administration", "vote_saved": "Merci : avis enregistré.",
        "vote_failed": "Avis non enregistré : {error}", "draft": "✍️ *Rédaction en cours — la réponse sera vérifiée "
        "contre les sources…*", "passage": "Passage", "fields": "Champs de la fiche",
        "differs": "valeur différente des autres sources",
        "modes": [("Extraits cités", "extractive"), ("Réponse rédigée, vérifiée", "generative"),
                  ("Automatique (rédigée si elle concorde)", "auto")],
        "examples_list": ["Quel est le budget du PEPR IA ?", "Qui porte le projet SHARP ?",
                          "Où est installé le supercalculateur Jean Zay ?", "Quels sont les clusters IA retenus en 2024 ?",
                          "Combien de doctorants ont été formés dans le cadre du PEPR IA ?"],
        "internal": "⚠️ Une erreur interne est survenue ; la question n'a pas pu être traitée. Réessayez.",
        "busy": "⏳ L'assistant est très sollicité en ce moment : trop de questions attendent déjà. Réessayez dans "
                "un instant.",
        "vote_unknown": "Avis non enregistré : ce message n'est pas une réponse de l'assistant dans cette "
                        "conversation.",
        "vote_limited": "Avis non enregistré : pas plus de {limit} avis par minute dans une conversation. "
                        "Réessayez dans un instant.",
    },
    "en": {
        "title": "CNRS and artificial intelligence — a sourced assistant",
        "intro": ("Ask about the CNRS's action in AI and French AI research (PEPR IA, AISSAI, Jean Zay, AI "
                  "clusters…). Every answer cites its sources; when the corpus does not support an answer, the "
                  "assistant says so."),
        "chat": "Conversation", "placeholder": "Your question…", "send": "Send", "new": "New conversation",
        "examples": "To start with", "settings": "Settings", "mode": "Answer mode", "top_k": "Passages consulted",
        "comment": "Comment on the last answer (optional, sent with your vote)", "sources": "Sources",
        "no_sources": "*The sources of the latest answer will show here.*", "admin": "Administration",
        "vote_saved": "Thank you: feedback saved.", "vote_failed": "Feedback not saved: {error}",
        "draft": "✍️ *Writing — the answer will be checked against the sources…*", "passage": "Passage",
        "fields": "Record fields", "differs": "a value other sources do not give",
        "modes": [("Quoted extracts", "extractive"), ("Written answer, checked", "generative"),
                  ("Automatic (written when it agrees)", "auto")],
        "examples_list": ["What is the budget of the PEPR IA?", "Who leads the SHARP project?",
                          "Where is the Jean Zay supercomputer installed?", "Which AI clusters were selected in 2024?",
                          "How many PhD students has the PEPR IA trained?"],
        "internal": "⚠️ An internal error occurred; the question could not be handled. Please try again.",
        "busy": "⏳ The assistant is very busy right now: too many questions are already waiting. Please try "
                "again in a moment.",
        "vote_unknown": "Feedback not saved: this message is not an answer of the assistant in this conversation.",
        "vote_limited": "Feedback not saved: at most {limit} votes a minute in one conversation. Please try again "
                        "in a moment.",
    },
}
