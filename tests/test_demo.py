"""`make demo`'s command, end to end on the embedded setup (SQLite file, SQLite queue)."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import zipfile
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_runs_the_whole_path_and_writes_its_outputs(tmp_path: Path) -> None:
    output = tmp_path / "demo-output"
    env = {key: value for key, value in os.environ.items() if not key.startswith("VOICEHUB_")} | {
        "VOICEHUB_DATA_DIR": str(tmp_path / "data")
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "voicehub.cli",
            "demo",
            "--fresh",
            "--no-serve",
            "--output",
            str(output),
            "--port",
            str(_free_port()),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "job succeeded: 4 done, 0 failed" in result.stdout
    assert result.stdout.count("→ verified") == 2, "both demo actors verify their consent by voice"
    receipts = sorted((output / "receipts").glob("cns_*.json"))
    assert len(receipts) == 2
    check = subprocess.run(
        [sys.executable, "-m", "voicehub.cli", "consent", "verify-receipt", str(receipts[0])],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0 and "receipt valid" in check.stdout, check.stdout + check.stderr
    assert (tmp_path / "data" / "voicehub.db").exists() and (
        tmp_path / "data" / "queue.db"
    ).exists()
    for cut in ("C-001", "C-002"):
        timing = json.loads((output / cut / f"{cut}.json").read_text("utf-8"))
        assert len(timing["lines"]) == 2
        assert {line["language"] for line in timing["lines"]} == {"en", "ja"}
        assert (output / cut / f"{cut}.rhubarb.tsv").read_text().splitlines()[-1].endswith("\tX")
        assert len(list((output / cut).glob("line_*.wav"))) == 2
    with zipfile.ZipFile(output / "project.zip") as bundle:
        names = set(bundle.namelist())
        manifest = json.loads(bundle.read("manifest.json"))
    assert {"project.otio", "project.srt", "C-001/C-001.xdts", "C-002/C-002.moho.dat"} <= names
    assert len(manifest["takes"]) == 4
    # Every line has a window in the demo script: each take reports how it was fitted.
    assert result.stdout.count("      fit ") == 4
    statements = sorted((output / "statements").glob("*.csv"))
    assert len(statements) == 2
    for path in statements:
        rows = list(csv.DictReader(path.open(encoding="utf-8")))
        lines = [r for r in rows if r["record"] == "line"]
        (month,) = [r for r in rows if r["record"] == "period_royalty"]
        assert len(lines) == 2
        assert int(month["royalty_micros"]) == sum(int(r["royalty_micros"]) for r in lines) > 0
        assert path.with_suffix(".pdf").read_bytes().startswith(b"%PDF-")
    assert "every invariant holds" in result.stdout, "the demo ends with a clean ledger check"
    # Every take is signed under the development CA that the demo made, and reads back
    # untrusted (no trust anchor configured); a re-encoded take is traced back to its line.
    assert (tmp_path / "data" / "keys" / "c2pa" / "ca.pem").exists()
    assert result.stdout.count("C2PA untrusted") == 4
    assert "found-in-the-wild.mp3 (64 kbit/s, no manifest left) → take take_" in result.stdout
