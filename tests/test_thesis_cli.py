"""``drain thesis`` end to end on the embedded data: short windows, missing crypto, configs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import drain_data
from drain_cli.main import main
from drain_data.store import Dataset


def _reports() -> Path:
    root = Path(os.environ["DRAIN_REPORTS_DIR"])
    root.mkdir(parents=True, exist_ok=True)
    return root


def _document(name: str) -> dict:
    folder = _reports() / name
    assert (folder / "index.html").is_file()
    return json.loads((folder / "thesis.json").read_text())


def test_a_forty_session_window_succeeds_with_every_claim_insufficient(capsys):
    assert main(["thesis", "--end", "2014-02-28", "--reps", "20"]) == 0
    document = _document("thesis-2014-02-28")
    assert document["meta"]["sessions"] == 40
    for claim in document["claims"]:
        assert claim["verdict"] == "insufficient data"
        assert claim["reason"]
    out = capsys.readouterr().out
    assert "insufficient data" in out and "index.html" in out


def test_without_crypto_the_command_succeeds_and_claim_five_says_why(monkeypatch, tmp_path,
                                                                     capsys):
    real = drain_data.load_dataset

    def no_crypto(*args, **kwargs) -> Dataset:
        data = real(*args, **kwargs)
        keep = [c for c in data.prices.columns if c not in ("BTC-USD", "ETH-USD")]
        return Dataset(prices=data.prices[keep], macro=data.macro, capex=data.capex,
                       issuance=data.issuance)

    monkeypatch.setattr(drain_data, "load_dataset", no_crypto)
    config = tmp_path / "thesis.toml"
    config.write_text('[signal]\nz_min_periods = 126\n\n[strategy.baskets]\n'
                      'speculative = ["ARKK", "IGV", "GME", "BTC-USD"]\n\n'
                      '[thesis]\nbootstrap_reps = 20\n')
    code = main(["thesis", "--config", str(config), "--start", "2021-01-04", "--end",
                 "2024-12-31", "--name", "no-crypto"])
    assert code == 0
    document = _document("no-crypto")
    claims = {c["key"]: c for c in document["claims"]}
    assert claims["crypto_gauge"]["verdict"] == "insufficient data"
    assert "BTC-USD" in claims["crypto_gauge"]["reason"]
    assert claims["duration"]["verdict"] != "insufficient data"
    meta = document["meta"]
    assert meta["config"]["baskets"]["speculative"] == ["ARKK", "IGV", "GME"]  # BTC left out
    assert meta["config"]["signal"]["z_min_periods"] == 126
    assert meta["config"]["thesis"]["bootstrap_reps"] == 20
    assert any("BTC-USD" in note for note in meta["notes"])


@pytest.mark.parametrize("argv, message", [
    (["--start", "2020-01-01", "--end", "2019-01-01"], "is after --end"),
    (["--end", "2010-01-01"], "before the data begins"),
    (["--start", "soon"], "not a date"),
])
def test_user_mistakes_are_one_line_errors(argv, message, capsys):
    assert main(["thesis", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_an_unknown_config_key_is_a_one_line_error(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text("[thesis]\nhorizn = 20\n")
    assert main(["thesis", "--config", str(config)]) == 2
    assert "thesis.horizn" in capsys.readouterr().err
    assert not list(_reports().glob("thesis-*"))  # nothing written for a bad config
