"""Where the harness finds things: the repo, the broker binaries, the client venvs.

Each location can be redirected by an environment variable so the same tests and client
scripts can be pointed at another build (for example a compatibility report card run).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

RUNNEL_BIN = Path(os.environ.get("RUNNEL_BIN", REPO_ROOT / "target" / "release" / "runnel"))
KAFKA_LIBS = Path(os.environ.get("RUNNEL_KAFKA_LIBS", REPO_ROOT / ".cache" / "kafka" / "libs"))
JAVA_BIN = os.environ.get("RUNNEL_JAVA", "java")

CLIENTS_DIR = REPO_ROOT / "tests" / "clients"
# Main venv: pytest, kafka-python 3.x, confluent-kafka, aiokafka.
VENV_PYTHON = Path(os.environ.get("RUNNEL_VENV_PYTHON", REPO_ROOT / ".venv" / "bin" / "python"))
# kafka-python 2.0.2 shares its package name with 3.x, so it lives in its own venv.
VENV_KP2_PYTHON = Path(os.environ.get("RUNNEL_VENV_KP2_PYTHON", REPO_ROOT / ".venv-kp2" / "bin" / "python"))
KCAT_BIN = os.environ.get("RUNNEL_KCAT", "kcat")
