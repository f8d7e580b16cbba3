"""The deployment files make sense: compose scales workers, Redis keeps its data."""

from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_redis_keeps_data_with_aof_on_a_volume():
    redis = compose()["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command and "--appendfsync everysec" in command
    assert any(v.endswith(":/data") for v in redis["volumes"])


def test_web_runs_gunicorn_through_faro_and_checks_health():
    web = compose()["services"]["web"]
    assert web["command"][:2] == ["faro", "web"]
    assert "/healthz" in " ".join(web["healthcheck"]["test"])
    assert web["environment"]["REDIS_URL"] == "redis://redis:6379/0"


def test_workers_can_be_scaled():
    worker = compose()["services"]["worker"]
    assert worker["command"] == ["faro", "worker"]
    # `--scale worker=3` fails with a fixed name or a published port.
    assert "container_name" not in worker and "ports" not in worker


def test_production_secrets_are_required_not_defaulted():
    env = compose()["services"]["web"]["environment"]
    for name in ("FARO_SECRET_KEY", "FARO_DATA_KEY", "FARO_PUBLIC_URL"):
        assert ":?" in env[name], name


def test_data_keys_live_in_their_own_store_apart_from_the_data():
    services = compose()["services"]
    assert services["web"]["environment"]["FARO_KEYSTORE_URL"].startswith("redis://keystore")
    assert "--appendonly yes" in " ".join(services["keystore"]["command"])
    assert any(v.startswith("media:") for v in services["worker"]["volumes"])
