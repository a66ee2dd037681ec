"""How it is found: chunking, embedders, FAISS and BM25 stores, the manifest, building and loading."""
