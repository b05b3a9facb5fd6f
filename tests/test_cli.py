"""``polyresponses types``: the summary, and validating a real recorded stream."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyresponses.__main__ import main
from tests._recorded import exchanges, sse_data


def test_types_summary_counts_the_unions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["types"]) == 0
    out = capsys.readouterr().out
    assert "openai.ResponseStreamEvent             60 variants,  60 `type` tags" in out
    assert "openai.OutputItem                      28 variants,  28 `type` tags" in out
    assert "openresponses.ResponseStreamEvent      24 variants,  24 `type` tags" in out


def _recorded_stream_text() -> str:
    for exchange in exchanges("openai_responses"):
        if exchange.cassette.startswith("reasoning_stream__") and exchange.response_text:
            return exchange.response_text
    raise AssertionError("no recorded reasoning stream")


def test_types_validates_a_recorded_stream(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = _recorded_stream_text()
    transcript = tmp_path / "stream.sse"
    transcript.write_text(text, encoding="utf-8")
    assert main(["types", "--sse", str(transcript)]) == 0
    out = capsys.readouterr().out
    assert f"{len(list(sse_data(text)))} events validated as ResponseStreamEvent" in out
    assert "response.completed" in out


def test_types_reports_an_invalid_event_with_its_position(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    transcript = tmp_path / "bad.sse"
    transcript.write_text(
        'event: response.created\ndata: {"type": "response.created", "sequence_number": 0}\n\n', encoding="utf-8"
    )
    assert main(["types", "--sse", str(transcript)]) == 1
    err = capsys.readouterr().err
    assert "event 1 is not a ResponseStreamEvent" in err
    assert "  response.created.response: Field required" in err


def test_providers_prints_one_line_per_row(capsys: pytest.CaptureFixture[str]) -> None:
    from polyresponses.router._providers import PROVIDERS

    assert main(["providers"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["name", "dialect", "base", "URL"]
    assert [line.split()[0] for line in lines[1:]] == list(PROVIDERS)
    by_name = {line.split()[0]: line.split() for line in lines[1:]}
    assert by_name["zai"][1:5] == ["chat_completions", "https://api.z.ai/api/paas/v4", "ZAI_API_KEY", "recorded"]
    assert by_name["databricks"][2:5] == ["$DATABRICKS_HOST/serving-endpoints", "DATABRICKS_TOKEN", "documented"]
    assert by_name["llamafile"][3] == "-" and "tools=none" in by_name["llamafile"]
    assert "state" in by_name["dashscope"] and "routes=delete,input_items,retrieve" in by_name["dashscope"]


def test_providers_json_has_every_fact_of_every_row(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from polyresponses.router._providers import PROVIDERS

    assert main(["providers", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in rows] == list(PROVIDERS)
    portkey = next(row for row in rows if row["name"] == "portkey")
    assert (portkey["auth_header"], portkey["auth_scheme"], portkey["api_key_env"]) == (
        "x-portkey-api-key",
        "",
        "PORTKEY_API_KEY",
    )
    assert portkey["facts"] == "documented" and portkey["docs"].startswith("https://portkey.ai/")
    assert portkey["capabilities"]["tools"] == ["function"] and portkey["capabilities"]["stored_state"] is False
    assert {row["facts"] for row in rows} == {"recorded", "documented"}
