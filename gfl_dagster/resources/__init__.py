"""One ConfigurableResource per external system: database, describer, embedder, vector store."""
