"""Issue 31 item 2: no password or key, in any encoding, in anything fs1 writes or prints (``fs1.redact``).

Unit cases for each shape and encoding, the OpenAI transport against a hostile scripted server, a failing command,
and a whole small run with secrets in the SPARQL URL and an API key whose every file and console line is searched
for every encoding of every secret.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from fs1.backends.base import BackendError, SamplingParams
from fs1.kg import bundled_kg_path
from fs1.redact import MASK, redact_argv, redact_text, redact_url, register_secret
from tests.backends.openai.test_openai import backend
from tests.fixtures.kg.servers import Fault as KGFault
from tests.fixtures.kg.servers import FaultProxy, OxigraphServer
from tests.support.scripted_openai import Fault, Reply, ScriptedOpenAIServer

KEY = "sk-SECRETKEY-0123456789abcdef"
USER, PASSWORD = "alice", "pa55-W0RD-secret!"
QUERY_KEY = "QSECRET-77665544"
ROOT = Path(__file__).resolve().parents[1]


def encodings(secret: str, user: str | None = None) -> dict[str, str]:
    """Every form a secret is searched for: verbatim, percent-encoded (both cases, unreserved characters too),
    quote_plus, JSON-escaped, base64 (alone and as ``user:secret``)."""
    every = "".join(f"%{b:02X}" for b in secret.encode())
    forms = {
        "verbatim": secret,
        "percent": urllib.parse.quote(secret, safe=""),
        "percent-upper-all": every,
        "percent-lower-all": every.lower(),
        "percent-dash": urllib.parse.quote(secret, safe="").replace("-", "%2D"),
        "plus": urllib.parse.quote_plus(secret),
        "json": json.dumps(secret)[1:-1],
        "base64": base64.b64encode(secret.encode()).decode(),
    }
    if user is not None:
        forms["basic"] = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return forms


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    """The encodings of ``secrets`` found in ``text`` (case-insensitively), or an 8-character piece of one."""
    low = text.lower()
    found = []
    for name, form in secrets.items():
        pieces = {form.lower()} | {form.lower()[i : i + 8] for i in range(0, max(1, len(form) - 7), 3)}
        if any(p in low for p in pieces):
            found.append(name)
    return found


# --- the shapes that always hold a secret ---


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://alice:pw@host:8890/sparql", "http://***@host:8890/sparql"),
        ("sparql:https://alice:pw@host/sparql?query=x", "sparql:https://***@host/sparql?query=x"),
        ("https://TOKEN123@host/", "https://***@host/"),
        ("https://h/v1?api-key=abc&max_tokens=16", "https://h/v1?api-key=***&max_tokens=16"),
        ("https://h/q?access_token=a&sig=b&Password=c&client_secret=d", "https://h/q?access_token=***&sig=***&Password=***&client_secret=***"),
        ("https://h/cb#access_token=abc&state=1", "https://h/cb#access_token=***&state=1"),
        ("https://h/x@y?keyword=kept&tokenizer=kept", "https://h/x@y?keyword=kept&tokenizer=kept"),
    ],
)  # fmt: skip
def test_url_user_info_and_credential_parameters_are_masked(url: str, expected: str) -> None:
    assert redact_url(url) == expected
    assert redact_text(f"error: {url} failed") == f"error: {expected} failed"
    assert redact_text(redact_text(url)) == redact_text(url)  # idempotent: fingerprints stay stable


def test_a_secret_seen_once_is_masked_in_every_encoding_afterwards() -> None:
    redact_url(f"http://{USER}:{urllib.parse.quote(PASSWORD)}@host/sparql?key={QUERY_KEY}")
    for secret, user in ((PASSWORD, USER), (QUERY_KEY, None)):
        for name, form in encodings(secret, user).items():
            masked = redact_text(f"the server said {form}!")
            assert leaks(masked, {name: form}) == [], (name, masked)
            assert MASK in masked


def test_a_registered_key_is_masked_whole_cut_short_and_case_insensitively() -> None:
    register_secret(KEY)
    for text in (KEY.upper(), KEY[:12], KEY[-10:], f'{{"k": "{KEY}"}}', f"&quot;{KEY}&quot;"):
        assert leaks(redact_text(text), encodings(KEY)) == [], text


def test_a_ray_clusters_token_is_masked_from_the_environment_and_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fs1.run.cluster.on_ray import register_ray_token

    in_env, in_file = "rayenvtok-7f3a9c1e5b", "rayfiletok-2d8e4b6a0c"
    (tmp_path / "token").write_text(in_file + "\n")
    monkeypatch.setenv("RAY_AUTH_TOKEN", in_env)
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "token"))
    assert (
        redact_text(f"{in_env} {in_file}") == f"{in_env} {in_file}"
    )  # not a shape that always holds a secret
    register_ray_token()
    assert (
        redact_text(f"handshake with {in_env} / {in_file} failed") == f"handshake with {MASK} / {MASK} failed"
    )


def test_a_cluster_jobs_own_output_is_masked(tmp_path: Path) -> None:
    """What a job process prints (Slurm's job log, a Ray worker's log) passes through the same masking as the CLI:
    here a library echoing the KG password, percent-encoded, on stdout and stderr."""
    script = (
        "import sys, urllib.parse\n"
        "from fs1.redact import register_secrets_in\n"
        "from fs1.run.jobs import mask_job_output\n"
        "mask_job_output()\n"
        f"register_secrets_in({{'kg': 'sparql:http://{USER}:{urllib.parse.quote(PASSWORD)}@h/sparql'}})\n"
        f"print('connecting as', urllib.parse.quote({PASSWORD!r}))\n"
        f"print('auth failed for', {PASSWORD!r}, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])},
    )
    assert leaks(done.stdout + done.stderr, encodings(PASSWORD, USER)) == [], done
    assert done.stdout.count(MASK) == 1 and done.stderr.count(MASK) == 1


def test_basic_and_bearer_credentials_are_masked_but_words_are_not() -> None:
    basic = base64.b64encode(b"bob:hunter2-x").decode()
    assert redact_text(f"got Authorization: Basic {basic}") == "got Authorization: Basic ***"
    assert redact_text(f"echo basic%20{basic}") == "echo basic%20***"
    assert redact_text("Bearer abc123def456ghi") == "Bearer ***"
    assert redact_text("hunter2-x again") == "*** again"  # learnt from the Basic credential
    for prose in ("Basic Instinct is a film", "Bearer bonds", "max_tokens=16", "the api_key_env option"):
        assert redact_text(prose) == prose


def test_environment_assignments_and_key_headers_are_masked() -> None:
    assert redact_text("export OPENAI_API_KEY=sk-live-123456") == "export OPENAI_API_KEY=***"
    assert redact_text('{"x-api-key": "abcdef123"}') == '{"x-api-key": "***"}'
    assert redact_text("OPENAI_API_KEY=$MY_KEY") == "OPENAI_API_KEY=$MY_KEY"  # names a secret, is not one


def test_the_recorded_command_line_is_masked() -> None:
    argv = ["fs1", "paths", "sample", "--kg", f"sparql:http://{USER}:{PASSWORD}@h/q", "--token", "t0k3n-secret",
            "--password=abcdef12", "--api-key-env", "MY_KEY"]  # fmt: skip
    assert redact_argv(argv) == [
        "fs1", "paths", "sample", "--kg", "sparql:http://***@h/q", "--token", MASK, f"--password={MASK}",
        "--api-key-env", "MY_KEY",
    ]  # fmt: skip


# --- the OpenAI transport against a server that echoes what it was sent ---


def test_a_key_echoed_percent_encoded_with_upper_case_escapes_is_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    forms = encodings(KEY)
    echoed = " ".join(forms.values())

    def responder(endpoint: str, body: dict) -> Reply:
        return Reply(text=f"you sent {echoed}")

    with ScriptedOpenAIServer(responder) as srv:
        srv.faults.append(Fault(status=401, body=json.dumps({"error": f"bad key {echoed}"})))
        with pytest.raises(BackendError) as info:
            backend(srv, max_retries=0).generate(["q"], SamplingParams())
        [[out]] = backend(srv).generate(["q"], SamplingParams())
    assert leaks(str(info.value), forms) == [] and "401" in str(info.value)
    assert leaks(out.text, forms) == [] and out.text.startswith("you sent ***")


def test_a_server_echo_of_a_basic_credential_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    def responder(endpoint: str, body: dict) -> Reply:
        return Reply(text=f"Authorization: Basic {basic}; later {PASSWORD}")

    with ScriptedOpenAIServer(responder) as srv:
        [[out]] = backend(srv).generate(["q"], SamplingParams())
    assert leaks(out.text, encodings(PASSWORD, USER)) == [], out.text


# --- whole commands ---


def _fs1(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, umask: int | None = None
) -> tuple[int, str]:
    """``fs1 ARGS`` as a user runs it (a process of its own, its real terminal streams captured)."""
    done = subprocess.run(
        [sys.executable, "-m", "fs1.cli.main", *args], capture_output=True, text=True, cwd=cwd, umask=umask or -1,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]), **(env or {})},
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def _every_file(root: Path) -> Iterator[tuple[Path, str]]:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield path, path.read_bytes().decode("utf-8", "replace")


def _all_secret_forms() -> dict[str, str]:
    forms = {f"key/{k}": v for k, v in encodings(KEY).items()}
    forms |= {f"password/{k}": v for k, v in encodings(PASSWORD, USER).items()}
    forms |= {f"query-key/{k}": v for k, v in encodings(QUERY_KEY).items()}
    return forms


def test_a_failing_command_with_secrets_in_its_url_leaks_them_nowhere(tmp_path: Path) -> None:
    out = tmp_path / "preds.jsonl"
    url = f"http://{USER}:{urllib.parse.quote(PASSWORD)}@127.0.0.1:9/v1?api-key={QUERY_KEY}"
    code, output = _fs1(
        "generate", "--benchmark", "sample", "--limit", "1", "--out", str(out), "--backend", "openai",
        "--model", "m", "--base-url", url, "--backend-option", "max_retries=0",
        "--backend-option", "tokenizer=smollm2-135m", env={"OPENAI_API_KEY": KEY},
    )  # fmt: skip
    assert code == 2 and "cannot reach http://***@127.0.0.1:9/v1?api-key=***" in output, output
    assert "Traceback" not in output and leaks(output, _all_secret_forms()) == [], output
    manifest = json.loads((tmp_path / "preds.manifest.json").read_text())
    assert manifest["status"] == "failed" and "***@127.0.0.1:9" in manifest["error"]
    assert "--base-url" in manifest["command"]
    for path, text in _every_file(tmp_path):
        assert leaks(text, _all_secret_forms()) == [], path


@pytest.mark.slow
def test_no_secret_in_any_file_of_a_run_or_on_its_console(tmp_path: Path, tiny_model_dir: Path) -> None:
    """The done-when of item 2: a whole run (paths on a SPARQL server behind a password and a query key, an OpenAI
    teacher and judge behind an API key, both servers echoing the secrets back in every encoding). Run under umask
    027, it also shows item 11's other half: every file and folder of the run, the trained model's weights included
    (safetensors writes them 0600), has the mode the umask gives."""
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    echo = " ".join([*encodings(KEY).values(), f"Basic {basic}"])

    def hostile(endpoint: str, body: dict) -> Reply:
        return Reply(text=f"I was sent {echo} \\boxed{{Honolulu}}")

    with (
        OxigraphServer(bundled_kg_path(), tmp_path) as oxi,
        FaultProxy(oxi.url) as proxy,
        ScriptedOpenAIServer(hostile) as srv,
    ):
        # One SPARQL query refused with the credentials quoted back; one teacher unit fails with the key quoted.
        proxy.faults.append(
            KGFault(status=400, body=f"denied {basic} {urllib.parse.quote(PASSWORD)} {QUERY_KEY}")
        )
        srv.faults.append(Fault(status=401, body=json.dumps({"error": f"bad key {echo}"})))
        sparql = proxy.url.replace("http://", f"http://{USER}:{urllib.parse.quote(PASSWORD)}@")
        exp = {
            "name": "secrets", "benchmark": "sample", "limit": 1, "kg": f"sparql:{sparql}?key={QUERY_KEY}",
            "teacher": {"model": srv.model, "backend": "openai", "base_url": srv.base_url, "max_tokens": 16,
                        "tokenizer": "smollm2-135m", "options": {"max_retries": 0}},
            "students": [{"name": "tiny", "model": str(tiny_model_dir), "backend": "transformers",
                          "options": {"dtype": "float32"}}],
            "settings": ["fs1"],
            "train": {"max_steps": 1, "max_length": 256, "effective_batch": 1, "filter_check": False},
            "generation": {"n": 1, "max_tokens": 6, "budgets": [4], "answer_max_tokens": 4}, "ks": [1],
            "judge": {"model": srv.model, "backend": "openai", "base_url": srv.base_url, "mode": "all"},
        }  # fmt: skip
        experiment = tmp_path / "exp.yaml"
        experiment.write_text(yaml.safe_dump(exp))
        rundir = tmp_path / "run"
        code, output = _fs1(
            "run", str(experiment), "--out", str(rundir), env={"OPENAI_API_KEY": KEY}, umask=0o027
        )
    assert code == 0, output
    modes = {p: stat.S_IMODE(p.lstat().st_mode) for p in [rundir, *rundir.rglob("*")] if not p.is_symlink()}
    wrong = {str(p.relative_to(rundir)): oct(m) for p, m in modes.items()
             if m not in ((0o750,) if p.is_dir() else (0o640, 0o750))}  # fmt: skip
    assert wrong == {} and any(p.name == "model.safetensors" for p in modes), wrong
    forms = _all_secret_forms()
    assert leaks(output, forms) == [], output
    searched = 0
    for path, text in _every_file(rundir):
        assert leaks(text, forms) == [], f"{path.relative_to(rundir)}: {leaks(text, forms)}"
        searched += 1
    assert searched > 20
    # The secrets were really there to leak: the records name the masked KG, the traces the masked echo.
    assert "sparql:http://***@127.0.0.1" in (rundir / "paths" / "paths.jsonl").read_text()
    assert "I was sent ***" in (rundir / "distill" / "fs1" / "traces.jsonl").read_text()
    assert (rundir / "distill" / "fs1" / "traces.errors.jsonl").exists()


def test_a_secret_named_as_an_environment_variable_stays_out_of_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cluster jobs rebuild the run from RUNDIR/experiment.yaml, where a literal secret is masked: ``${VAR}`` in a
    ``kg`` or ``base_url`` keeps the secret out of the file and lets every job read it from its environment."""
    from fs1.io import InputError
    from fs1.run.config import load_experiment
    from fs1.run.runner import keep_experiment_copy

    text = (
        "students: [{name: s, model: smollm2-135m, backend: openai, base_url: 'http://h/v1?api-key=${FS1_T_KEY}'}]\n"
        "kg: sparql:http://alice:${FS1_T_PW}@127.0.0.1:9/sparql\n"
    )
    experiment = tmp_path / "exp.yaml"
    experiment.write_text(text)
    monkeypatch.delenv("FS1_T_PW", raising=False)
    monkeypatch.setenv("FS1_T_KEY", QUERY_KEY)
    with pytest.raises(InputError, match=r"exp\.yaml: kg: \$\{FS1_T_PW\} is not set in the environment"):
        load_experiment(experiment)
    monkeypatch.setenv("FS1_T_PW", PASSWORD)
    exp = load_experiment(experiment)
    assert exp.kg == f"sparql:http://alice:{PASSWORD}@127.0.0.1:9/sparql"
    assert exp.students[0].base_url == f"http://h/v1?api-key={QUERY_KEY}"
    assert redact_text(f"echo {PASSWORD}") == "echo ***"  # known as a secret from now on
    copy = tmp_path / "run" / "experiment.yaml"
    assert keep_experiment_copy(experiment, copy, log=lambda _: None) is False and copy.read_text() == text


def test_a_cluster_job_of_a_run_with_a_literal_secret_reads_it_from_the_experiment_file_only(
    tmp_path: Path,
) -> None:
    """``fs1 run --executor slurm|ray``: the run's copy has the secret masked, so each job names the experiment file
    itself (by path and digest); what is submitted (submitit's and Ray's pickle) holds no secret."""
    import pickle

    from fs1.run.cluster.executors import LocalExecutor
    from fs1.run.config import load_experiment
    from fs1.run.pipeline import Pipeline
    from fs1.run.runner import prepare_rundir

    class Remote(LocalExecutor):
        remote = True

    experiment = tmp_path / "exp.yaml"
    experiment.write_text(
        f"students: [{{name: s, model: smollm2-135m}}]\nkg: sparql:http://alice:{PASSWORD}@127.0.0.1:9/sparql\n"
        "executor: {kind: slurm}\n"
    )
    rundir = tmp_path / "run"
    prepare_rundir(experiment, rundir, tmp_path, 0)
    pipe = Pipeline(load_experiment(experiment), rundir, experiment, lambda _: None, executor=Remote())
    call = pipe.job_call(None, "paths", None)  # type: ignore[arg-type]
    assert str(experiment.resolve()) in call.args
    assert leaks(pickle.dumps(call).decode("latin-1"), _all_secret_forms()) == []
    for path, text in _every_file(rundir):
        assert leaks(text, _all_secret_forms()) == [], path


def test_plan_dry_run_refuses_a_literal_secret_and_writes_none_from_references(tmp_path: Path) -> None:
    """``fs1 plan --dry-run``'s scripts run ``fs1 run RUNDIR/experiment.yaml --only ...``, the masked copy: a literal
    secret (here a key in a Slurm setup line) is refused before any file is written; written as ``${VAR}`` the
    scripts, jobs.txt and the run directory hold no secret, and the jobs take it from their environment."""
    literal = tmp_path / "literal.yaml"
    literal.write_text(
        "students: [{name: s, model: smollm2-135m}]\n"
        f"executor: {{kind: slurm, slurm: {{setup: ['export OPENAI_API_KEY={KEY}']}}}}\n"
    )
    plan, rundir = tmp_path / "plan", tmp_path / "run"
    args = ["--questions", "2", "--dry-run", str(plan), "--out", str(rundir)]
    code, output = _fs1("plan", str(literal), *args)
    assert code == 2 and "cluster jobs would read masked" in output, output
    assert leaks(output, _all_secret_forms()) == [] and not plan.exists() and not rundir.exists()

    referenced = tmp_path / "referenced.yaml"
    referenced.write_text(
        "students: [{name: s, model: m, backend: openai, base_url: 'http://h:8000/v1?api-key=${FS1_T_KEY}'}]\n"
        "kg: sparql:http://alice:${FS1_T_PW}@127.0.0.1:9/sparql\nsettings: [instruct, fs1]\n"
        "executor: {kind: slurm}\n"
    )
    env = {"FS1_T_KEY": QUERY_KEY, "FS1_T_PW": PASSWORD}
    code, output = _fs1("plan", str(referenced), *args, env=env)
    assert code == 0 and "jobs.txt" in output, output
    assert leaks(output, _all_secret_forms()) == []
    files = [*_every_file(plan), *_every_file(rundir)]
    assert len(files) >= 4 and all(leaks(text, _all_secret_forms()) == [] for _, text in files)
    assert "${FS1_T_PW}" in (rundir / "experiment.yaml").read_text()
