"""The gateway's TOML config: every key, environment overrides, and clear errors naming file and key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from polyresponses.server import ConfigError, load_config
from polyresponses.server._config import key_digest

FULL = """
[server]
host = "0.0.0.0"
port = 9001
keepalive_seconds = 5
max_body_bytes = 1024
max_ws_frame_bytes = 2048
ws_max_seconds = 60
requests_per_minute = 30
allowed_base_url_hosts = ["gpu-box"]
drop_unsupported_hosted_tools = true
upstream_max_retries = 1
upstream_timeout_seconds = 30

[store]
url = "/srv/gateway/store.sqlite3"

[keys.ci]
sha256 = "{digest}"
models = ["fast", "groq:*"]

[keys.dev]
env = "DEV_GATEWAY_KEY"

[providers.groq]
api_key_env = "MY_GROQ_KEY"
base_url = "http://gpu-box:8000/v1"
dialect = "chat_completions"

[providers.vertexai]
project = "my-project"
region = "europe-west4"

[aliases.fast]
model = "groq:openai/gpt-oss-120b"
defaults = {{ temperature = 0.2 }}

[aliases]
short = "mistral:mistral-small"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    return path


def test_every_key(tmp_path: Path) -> None:
    path = _write(tmp_path, FULL.format(digest=key_digest("sk-ci").hex()))
    config = load_config(path, {"DEV_GATEWAY_KEY": "sk-dev"})
    assert (config.host, config.port, config.keepalive_seconds, config.max_body_bytes) == ("0.0.0.0", 9001, 5.0, 1024)
    assert (config.max_ws_frame_bytes, config.ws_max_seconds, config.requests_per_minute) == (2048, 60.0, 30)
    assert config.allowed_base_url_hosts == ("gpu-box",) and config.drop_unsupported_hosted_tools is True
    assert (config.upstream_max_retries, config.upstream_timeout_seconds) == (1, 30.0)
    assert config.store == "/srv/gateway/store.sqlite3"
    ci, dev = config.keys
    assert ci.name == "ci" and ci.digest == key_digest("sk-ci") and ci.models == ("fast", "groq:*")
    assert dev.digest == key_digest("sk-dev") and dev.models == ()
    assert ci.allows("fast", "groq", "openai/gpt-oss-120b") and ci.allows(None, "groq", "llama")
    assert not ci.allows(None, "openai", "gpt-4o")
    groq = config.providers["groq"]
    assert (groq.api_key_env, groq.base_url, groq.dialect) == (
        "MY_GROQ_KEY",
        "http://gpu-box:8000/v1",
        "chat_completions",
    )
    vertex = config.providers["vertexai"]
    assert (vertex.project, vertex.region, vertex.resource) == ("my-project", "europe-west4", None)
    assert config.aliases["fast"].model == "groq:openai/gpt-oss-120b" and dict(config.aliases["fast"].defaults) == {
        "temperature": 0.2
    }
    assert config.aliases["short"].model == "mistral:mistral-small"  # the short form: alias = "provider:model"
    config.check_bind()  # keys are configured: any interface may be used


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, '[server]\nport = 9001\nhost = "127.0.0.1"\n[store]\nurl = "a.sqlite3"\n')
    config = load_config(
        path,
        {
            "POLYRESPONSES_PORT": "9100",
            "POLYRESPONSES_STORE": ":memory:",
            "POLYRESPONSES_ALLOWED_BASE_URL_HOSTS": "a, b",
            "POLYRESPONSES_DROP_UNSUPPORTED_HOSTED_TOOLS": "yes",
        },
    )
    assert (config.port, config.store, config.allowed_base_url_hosts) == (9100, ":memory:", ("a", "b"))
    assert config.drop_unsupported_hosted_tools is True


def test_defaults_without_a_file() -> None:
    config = load_config(None, {})
    assert (config.host, config.port, config.keys, config.store) == ("127.0.0.1", 8000, (), "")
    assert config.max_body_bytes == 32 * 1024 * 1024 and config.keepalive_seconds == 15.0
    config.check_bind()


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ("[server\n", {}, "not valid TOML"),
        ("[sever]\n", {}, "unknown section(s) ['sever']"),
        ("[server]\nprot = 1\n", {}, "unknown key(s) in [server]: ['prot']"),
        ('[server]\nport = "80"\n', {}, "[server].port must be int, got str"),
        ("[server]\nport = 70000\n", {}, "[server].port must be 0..65535"),
        ('[keys.a]\nsha256 = "zz"\n', {}, "[keys.a].sha256 must be 64 hex digits"),
        ('[keys.a]\nenv = "NOPE"\n', {}, "the environment variable NOPE is not set"),
        ("[keys.a]\nmodels = []\n", {}, "needs exactly one of sha256"),
        ("[providers.nope]\n", {}, "[providers.nope]: unknown provider"),
        ('[providers.groq]\ndialect = "x"\n', {}, "[providers.groq].dialect must be"),
        ("[providers.bedrock]\nregion = 1\n", {}, "[providers.bedrock].region must be str, got int"),
        ('[providers.vertexai]\nproject = "evil.test/x"\n', {}, "[providers.vertexai].project must be a project name"),
        ("[providers.bedrock]\nzone = 'x'\n", {}, "takes api_key_env, base_url, dialect, region, project and resource"),
        ("[aliases.fast]\ndefaults = {}\n", {}, "[aliases.fast] takes model"),
        ("", {"POLYRESPONSES_PORT": "x"}, "environment variable POLYRESPONSES_PORT: expected int"),
    ],
)
def test_clear_errors(tmp_path: Path, text: str, environ: dict[str, str], message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ)
    assert message in str(caught.value) and (str(path) in str(caught.value) or "environment" in str(caught.value))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path / "absent.toml")


def test_serve_refuses_every_interface_without_keys() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "polyresponses", "serve", "--host", "0.0.0.0", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "refusing to listen on '0.0.0.0' with no gateway keys" in result.stderr


def test_import_polyresponses_loads_no_server_dependency() -> None:
    code = (
        "import sys, polyresponses; polyresponses.Client; "
        "extra = ('starlette', 'uvicorn', 'websockets', 'cryptography', 'polyresponses.server'); "
        "bad = sorted(m for m in extra if m in sys.modules); "
        "print(bad)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_missing_extra_names_it() -> None:
    code = (
        "import sys; sys.modules['starlette'] = None\n"
        "try:\n    import polyresponses.server\nexcept ImportError as e:\n    print(e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "pip install 'polyresponses[server]'" in result.stdout and "starlette" in result.stdout


_NAMESPACE_SCRIPT = r"""
import os, subprocess, sys, time, urllib.error, urllib.request
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
command = ["serve", "--config", sys.argv[1], "--host", "0.0.0.0", "--port", "8931", "--log-level", "warning"]
server = subprocess.Popen([sys.executable, "-m", "polyresponses", *command])
try:
    for _ in range(200):
        try:
            urllib.request.urlopen("http://127.0.0.1:8931/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    def status(key):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        request = urllib.request.Request("http://127.0.0.1:8931/v1/models", headers=headers)
        try:
            return urllib.request.urlopen(request, timeout=5).status
        except urllib.error.HTTPError as error:
            return error.code
    print(status(os.environ["NS_KEY"]), status(None), status("wrong"))
finally:
    server.terminate()
    server.wait()
"""


def test_serve_binds_every_interface_with_keys_in_its_own_network_namespace(tmp_path: Path) -> None:
    """Listening on 0.0.0.0 happens inside ``unshare -rn`` (a namespace with only its own loopback)."""
    import shutil

    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("unshare and ip (util-linux, iproute2) are needed")
    config = tmp_path / "gateway.toml"
    config.write_text('[store]\nurl = ":memory:"\n[keys.ops]\nenv = "NS_KEY"\n')
    script = tmp_path / "inside.py"
    script.write_text(_NAMESPACE_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "POLYRESPONSES_STORE"} | {"NS_KEY": "sk-ns-key"}
    done = subprocess.run(
        ["unshare", "-rn", sys.executable, str(script), str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["200", "401", "401"]
