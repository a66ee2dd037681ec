"""How people ask: the Gradio chat. Thin: it calls the assistant and never builds indexes."""
