"""KafkaBroker: the reference Apache Kafka 4.1.x from the Maven jars, KRaft combined mode.

One JVM is broker and controller (node.id=1); the controller quorum listens on a second
free loopback port. The log dir is formatted once with kafka.tools.StorageTool; restarts
reuse it. Log4j output goes to server.log in the workdir, nothing to the console.
"""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

from .paths import JAVA_BIN, KAFKA_LIBS
from .ports import LOOPBACK, free_port
from .process import BrokerProcess, BrokerStartError

_COMMON_JVM_OPTS = ["-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true"]
# A test broker lives seconds to minutes under light load. The C1 compiler alone and the
# serial collector about halve the CPU that formatting and starting it take (10 -> 6
# CPU-seconds measured here), which is most of what a Kafka broker costs the suite on 2 cores.
# The protocol and every behaviour the tests check are the same.
TEST_JVM_OPTS = ["-Xms64m", "-Xmx1g", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", *_COMMON_JVM_OPTS]
# As Kafka's own scripts run a broker (G1, full JIT), with a fixed heap: what benchmarks use.
SERVER_JVM_OPTS = ["-Xms1g", "-Xmx1g", "-XX:+UseG1GC", *_COMMON_JVM_OPTS]
FORMAT_TIMEOUT_S = 120.0

# Single-node settings: the internal topics must not wait for replicas that never come.
BASE_CONFIG = {
    "process.roles": "broker,controller",
    "node.id": "1",
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
}

LOG4J2_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders>
    <File name="file" fileName="{path}" append="true">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Root level="INFO"><AppenderRef ref="file"/></Root>
    <Logger name="org.apache.kafka.clients" level="WARN"/>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="state.change.logger" level="WARN"/>
  </Loggers>
</Configuration>
"""


def random_cluster_id() -> str:
    """Kafka's cluster id format: a random UUID, URL-safe base64 without padding.

    Like Kafka's Uuid.randomUuid(), never one starting with "-": StorageTool's argument
    parser would read it as an option (1 start in 64 would fail).
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


class KafkaBroker(BrokerProcess):
    kind = "kafka"
    default_start_timeout_s = 120.0

    def __init__(self, config: dict[str, object] | None = None, *, libs: str | None = None,
                 controller_port: int | None = None, jvm_opts: list[str] | None = None, **kwargs):
        super().__init__(config, **kwargs)
        self.libs = Path(libs) if libs is not None else KAFKA_LIBS
        self.jvm_opts = list(jvm_opts) if jvm_opts is not None else TEST_JVM_OPTS
        self.controller_port = controller_port or free_port()
        self.properties_path = self.workdir / "server.properties"
        self.log4j_path = self.workdir / "log4j2.xml"
        self.server_log = self.workdir / "server.log"

    def settings(self) -> dict[str, str]:
        return {
            **BASE_CONFIG,
            "listeners": ",".join([f"PLAINTEXT://{LOOPBACK}:{self.port}", f"CONTROLLER://{LOOPBACK}:{self.controller_port}",
                                   *self.extra_listener_uris()]),
            "advertised.listeners": ",".join([f"PLAINTEXT://{LOOPBACK}:{self.port}", *self.extra_listener_uris()]),
            "listener.security.protocol.map": ",".join(["CONTROLLER:PLAINTEXT", "PLAINTEXT:PLAINTEXT",
                                                         *self.extra_protocol_map()]),
            "controller.quorum.voters": f"1@{LOOPBACK}:{self.controller_port}",
            "log.dirs": str(self.data_dir),
            **self.config,
        }

    def _java(self, main_class: str, *args: str) -> list[str]:
        return [JAVA_BIN, *self.jvm_opts, f"-Dlog4j2.configurationFile={self.log4j_path}",
                "-cp", str(self.libs / "*"), main_class, *args]

    def _write_files(self) -> None:
        self.properties_path.write_text("".join(f"{k}={v}\n" for k, v in self.settings().items()))
        self.log4j_path.write_text(LOG4J2_XML.format(path=self.server_log))

    def prepare(self) -> None:
        if not any(self.libs.glob("kafka_2.13-*.jar")):
            raise BrokerStartError(f"no Kafka jars in {self.libs} (run scripts/setup)")
        self._write_files()
        if (self.data_dir / "meta.properties").exists():
            return
        cmd = self._java("kafka.tools.StorageTool", "format", "-t", random_cluster_id(),
                         "-c", str(self.properties_path), "--ignore-formatted")
        res = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=FORMAT_TIMEOUT_S, cwd=self.workdir)
        with open(self.output_path, "a") as out:
            out.write(f"===== format: {' '.join(cmd)}\n{res.stdout}{res.stderr}")
        if res.returncode != 0:
            raise BrokerStartError(f"StorageTool format failed ({res.returncode}):\n{res.stdout}{res.stderr}")

    def command(self) -> list[str]:
        # Rewritten on every start so a test may change self.config between restarts.
        self._write_files()
        return self._java("kafka.Kafka", str(self.properties_path))

    def output_tail(self, lines: int = 60) -> str:
        text = super().output_tail(lines)
        try:
            log = self.server_log.read_text(errors="replace").splitlines()[-lines:] if lines > 0 else []
            text += f"\n--- last {len(log)} lines of {self.server_log} ---\n" + "\n".join(log)
        except OSError:
            pass
        return text
