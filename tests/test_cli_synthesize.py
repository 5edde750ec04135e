"""`voicehub synthesize` against a running server: progress, summary and exit codes."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from tests.api.test_job_progress import serve
from tests.factories import JAPANESE, cast_project, seed_studio, seed_voice
from voicehub.cli import _ProgressBar, main
from voicehub.runtime import Runtime

SCRIPT = [
    {"number": "C-001", "lines": [{"character": "KEN", "text": "We leave at dawn."}]},
    {
        "number": "C-002",
        "lines": [
            {"character": "KEN", "text": "Bring the lantern."},
            {"character": "HARU", "text": "わかった。", "language": "ja"},
        ],
    },
]


def _start(*args: str, key: str | None = None) -> subprocess.Popen[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("VOICEHUB_")}
    if key is not None:
        env["VOICEHUB_API_KEY"] = key
    return subprocess.Popen(
        [sys.executable, "-m", "voicehub.cli", "synthesize", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _synthesize(*args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    return _finish(_start(*args, key=key))


def test_a_project_is_synthesized_with_progress_and_a_summary(
    client: TestClient, runtime: Runtime, worker: None
) -> None:
    studio = seed_studio(runtime)
    ken = seed_voice(runtime, name="Ken")
    haru = seed_voice(runtime, name="Haru", voice=JAPANESE)
    project = cast_project(client, studio, {"KEN": ken, "HARU": haru}, SCRIPT)

    with serve(runtime) as base_url:
        one_cut = _synthesize(
            "--api", base_url, "--project", project.project_id, "--cut", project.cut_ids[0],
            "--approve", "--seed", "7", key=studio.key,
        )  # fmt: skip
        client.post(f"/v1/actor/consents/{haru.consent_id}/revoke", headers=haru.actor_headers)
        everything = _synthesize(
            "--api", base_url, "--key", studio.key, "--project", project.project_id,
            "--fit", "off", "--speed", "1.1",
        )  # fmt: skip

    assert one_cut.returncode == 0, one_cut.stdout + one_cut.stderr
    job_id = one_cut.stdout.split()[1]
    assert one_cut.stdout == f"job {job_id} succeeded: 1 of 1 line(s) done, 0 failed\n"
    # Not a terminal: one line per update, the last one complete.
    updates = [line for line in one_cut.stderr.splitlines() if line.startswith("progress:")]
    assert updates[-1] == "progress: 100.0% 1/1 lines", one_cut.stderr
    assert "\r" not in one_cut.stderr
    approval = client.get(f"/v1/lines/{project.line_ids[0]}/approval", headers=studio.headers)
    assert approval.json()["take_id"] is not None
    take = client.get(f"/v1/takes/{approval.json()['take_id']}", headers=studio.headers).json()
    assert take["seed"] == 7

    assert everything.returncode == 1, everything.stdout + everything.stderr
    summary, failure = everything.stdout.splitlines()
    assert summary.endswith("completed_with_errors: 2 of 3 line(s) done, 1 failed")
    assert failure.split()[:2] == [project.line_ids[2], "consent_revoked"]
    assert "progress: 100.0% 3/3 lines, 1 failed" in everything.stderr


def test_refused_requests_exit_2_with_the_servers_problem(
    client: TestClient,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    studio = seed_studio(runtime)
    other = seed_studio(runtime, "Other studio")
    voice = seed_voice(runtime, name="Ken")
    project = cast_project(client, studio, {"KEN": voice}, SCRIPT[:1])
    elsewhere = cast_project(client, other, {"KEN": voice}, SCRIPT[:1])

    with serve(runtime) as base_url:
        # Started together: each waits only for its own answer.
        started = [
            _start("--api", base_url, "--project", elsewhere.project_id, key=studio.key),
            _start(
                "--api",
                base_url,
                "--project",
                project.project_id,
                "--cut",
                elsewhere.cut_ids[0],
                key=studio.key,
            ),
            _start("--api", base_url, "--project", project.project_id, key="vh_live_x"),
        ]
        foreign, bad_cut, bad_key = map(_finish, started)
    monkeypatch.delenv("VOICEHUB_API_KEY", raising=False)
    no_key = main(["synthesize", "--api", base_url, "--project", project.project_id])
    no_key_err = capsys.readouterr().err
    no_server = main(
        ["synthesize", "--api", base_url, "--key", studio.key, "--project", project.project_id]
    )
    no_server_err = capsys.readouterr().err
    with pytest.raises(SystemExit) as bad_speed:
        main(["synthesize", "--project", project.project_id, "--speed", "fast"])
    bad_speed_err = capsys.readouterr().err

    assert (foreign.returncode, foreign.stderr) == (
        2,
        f"error (not_found): No project {elsewhere.project_id}.\n",
    )
    assert bad_cut.returncode == 2
    assert bad_cut.stderr == (
        f"error (invalid_input): Cuts not in project {project.project_id}:"
        f" {elsewhere.cut_ids[0]}. [cut_ids]\n"
    )
    assert bad_key.returncode == 2 and bad_key.stderr.startswith("error (unauthenticated)")
    assert (no_key, no_key_err) == (2, "error: no API key; pass --key or set VOICEHUB_API_KEY\n")
    assert no_server == 2 and f"error: cannot talk to {base_url}" in no_server_err
    assert bad_speed.value.code == 2 and "invalid float value: 'fast'" in bad_speed_err
    assert (
        client.get(f"/v1/projects/{project.project_id}/approvals", headers=studio.headers).json()[
            "lines_approved"
        ]
        == 0
    )


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_bar_is_redrawn_in_place() -> None:
    terminal = _Terminal()
    bar = _ProgressBar(terminal, width=10)
    for done in (0, 1, 2):
        bar.update(
            {
                "progress": done / 4,
                "percent": done * 25.0,
                "lines_total": 4,
                "lines_done": done,
                "lines_failed": 0,
            }
        )
    bar.update(
        {"progress": 1.0, "percent": 100.0, "lines_total": 4, "lines_done": 3, "lines_failed": 1}
    )
    bar.close()
    assert terminal.getvalue() == (
        "\r[----------]   0.0% 0/4 lines"
        "\r[##--------]  25.0% 1/4 lines"
        "\r[#####-----]  50.0% 2/4 lines"
        "\r[##########] 100.0% 4/4 lines, 1 failed\n"
    )
