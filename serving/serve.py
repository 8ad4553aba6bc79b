"""`pcc serve`: start the HTTP service and web page (BentoML) on one port.

It checks the settings, then becomes `bentoml serve serving.service:PCC` with the settings passed
through PCC_* environment variables, which is also how a container or a plain `bentoml serve` is configured.
"""
from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
from pathlib import Path

from pcc.bundle import BUNDLE_ENV, PRECISIONS, choose_precision, default_bundle_dir, read_bundle
from pcc.errors import UserError
from pcc.paths import API_TOKEN_ENV, CORRECTIONS_ENV

SERVICE = "serving.service:PCC"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s; "
                        "0.0.0.0 to accept other machines)")
    parser.add_argument("--port", type=int, default=3000, help="port (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes, each with its own copy of the model (default: %(default)s)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where the model runs; cuda needs `pip install onnxruntime-gpu` (default: %(default)s)")
    parser.add_argument("--precision", choices=PRECISIONS, default=None,
                        help="fp32 or int8: several times faster on a CPU and, in a bundle with calibrated int8, "
                             "as independent of batching as fp32 (default: int8 where the bundle's int8 model is "
                             "calibrated and passed the export checks, else fp32)")
    parser.add_argument("--bundle", type=Path,
                        help="ONNX bundle directory from `pcc export` (default: $PCC_BUNDLE or models/latest/onnx)")
    parser.add_argument("--no-batching", action="store_true",
                        help="answer every /classify request alone instead of merging concurrent ones")
    parser.add_argument("--corrections-dir", type=Path,
                        help="folder where POST /corrections appends the corrections made in the page to "
                             "corrections.jsonl (default: $PCC_CORRECTIONS_DIR; unset: corrections are not stored); "
                             f"with a --host beyond loopback, set ${API_TOKEN_ENV} to a secret that writers must send")


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise UserError(f"--host {host} --port {port}: cannot listen there ({error.strerror}); "
                            "stop what uses the port or pick another with --port") from None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # BentoML takes addresses only, and says so itself
        return False


def _writable_folder(folder: Path) -> Path:
    """The folder, created if need be, as an absolute path; a UserError when it cannot be written to."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"--corrections-dir {folder}: cannot create it ({error.strerror}); choose another folder") from None
    if not os.access(folder, os.W_OK):
        raise UserError(f"--corrections-dir {folder}: not writable; choose a folder this user may write to")
    return folder.resolve()


def run(args: argparse.Namespace) -> int:
    from serving.classifier import execution_providers  # imports ONNX Runtime: only when serving

    if args.workers < 1:
        raise UserError(f"--workers {args.workers}: give at least 1")
    if not 0 < args.port < 65536:
        raise UserError(f"--port {args.port}: give a port between 1 and 65535")
    _check_port_free(args.host, args.port)
    corrections = args.corrections_dir or os.environ.get(CORRECTIONS_ENV)
    if corrections:
        if not _is_loopback(args.host) and not os.environ.get(API_TOKEN_ENV):
            raise UserError(f"--host {args.host} with --corrections-dir: anyone who reaches the port could add to the "
                            f"corrections that train the next model; set {API_TOKEN_ENV} to a secret (the page asks "
                            "for it once), or listen on 127.0.0.1")
        corrections = _writable_folder(Path(corrections))
    bundle = (args.bundle or default_bundle_dir()).resolve()
    # Check the bundle's files and the device here, so that a missing file or an unusable device is a one-line
    # error, not a traceback from every worker; without loading the model, which each worker loads anyway
    # (loading it here too added about a second before /readyz answered).
    args.precision = choose_precision(bundle, args.precision)
    read_bundle(bundle, args.precision)
    execution_providers(args.device)

    env = {
        **os.environ,
        BUNDLE_ENV: str(bundle),
        "PCC_DEVICE": args.device,
        "PCC_PRECISION": args.precision,
        "PCC_WORKERS": str(args.workers),
        "PCC_BATCHING": "0" if args.no_batching else "1",
        "BENTOML_DO_NOT_TRACK": "True",  # no usage reports: the service may run without internet
        **({CORRECTIONS_ENV: str(corrections)} if corrections else {}),
    }
    command = [sys.executable, "-m", "bentoml", "serve", SERVICE, "--working-dir", str(PROJECT_ROOT),
               "--host", args.host, "--port", str(args.port)]
    print(f"pcc serve: http://{args.host}:{args.port}/ with bundle {bundle} ({args.device}, {args.precision})"
          + (f"; corrections go to {corrections}" if corrections else "")
          + (f" from those who send ${API_TOKEN_ENV}" if corrections and os.environ.get(API_TOKEN_ENV) else ""),
          file=sys.stderr, flush=True)
    # Become the server, so that signals sent to this process (Ctrl+C, SIGTERM) reach BentoML directly.
    os.execve(sys.executable, command, env)

