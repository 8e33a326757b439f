"""One ConfigurableResource per external system: the database, the model service, the embedder, the vector store;
from_env.py maps the environment to them."""
