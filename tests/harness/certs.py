"""A throwaway certificate authority for TLS tests, made with the openssl command line.

make_certs(dir) writes, all PEM and unencrypted:
  ca.pem                     the CA certificate (the truststore for both sides)
  server.pem / server.key    a server certificate for localhost and 127.0.0.1, signed by the CA
  server-keystore.pem        key + chain in one file (Kafka's ssl.keystore.type=PEM location)
  client.pem / client.key    a client certificate, subject CN=<client_cn>,OU=test,O=runnel
  client-keystore.pem        key + chain in one file (Java clients' PEM keystore)
  rogue-ca.pem, rogue.pem/.key a second CA and a client certificate it signed (untrusted)
  expired.pem / expired.key  a client certificate signed by the CA that has already expired
  server.p12                 the server key and chain as PKCS12, password PKCS12_PASSWORD

server_ssl_settings(certs, ...) gives the broker's ssl.* keys (Kafka's names, for either broker);
write_client_properties(path, certs) writes a Java client.properties (PEM keystore).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

OPENSSL_TIMEOUT_S = 30
CERT_DAYS = 2
# openssl x509 -days -1: not-after a day before not-before, so expired from the start.
EXPIRED_DAYS = -1
PKCS12_PASSWORD = "runnel-test"


@dataclass(frozen=True)
class Certs:
    dir: Path

    @property
    def ca(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def server_keystore(self) -> Path:
        return self.dir / "server-keystore.pem"

    @property
    def client_cert(self) -> Path:
        return self.dir / "client.pem"

    @property
    def client_key(self) -> Path:
        return self.dir / "client.key"

    @property
    def client_keystore(self) -> Path:
        return self.dir / "client-keystore.pem"

    @property
    def server_cert(self) -> Path:
        return self.dir / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.dir / "server.key"

    @property
    def server_p12(self) -> Path:
        return self.dir / "server.p12"

    @property
    def expired_cert(self) -> Path:
        return self.dir / "expired.pem"

    @property
    def expired_key(self) -> Path:
        return self.dir / "expired.key"

    @property
    def rogue_cert(self) -> Path:
        return self.dir / "rogue.pem"

    @property
    def rogue_key(self) -> Path:
        return self.dir / "rogue.key"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=OPENSSL_TIMEOUT_S)


def _ca(name: str, cwd: Path) -> None:
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", str(CERT_DAYS),
             "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=cwd)


def _leaf(name: str, subject: str, ca: str, ext: str, cwd: Path, days: int = CERT_DAYS) -> None:
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{name}.raw.key", "-out", f"{name}.csr", "-subj", subject, cwd=cwd)
    # Java's PEM keystore reads PKCS#8 keys only.
    _openssl("pkcs8", "-topk8", "-nocrypt", "-in", f"{name}.raw.key", "-out", f"{name}.key", cwd=cwd)
    (cwd / f"{name}.ext").write_text(ext)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-out", f"{name}.pem", "-days", str(days), "-extfile", f"{name}.ext", cwd=cwd)
    (cwd / f"{name}-keystore.pem").write_text((cwd / f"{name}.key").read_text() + (cwd / f"{name}.pem").read_text())


def make_certs(directory: Path, *, client_cn: str = "alice") -> Certs:
    directory.mkdir(parents=True, exist_ok=True)
    _ca("ca", directory)
    _ca("rogue-ca", directory)
    _leaf("server", "/CN=localhost", "ca",
          "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n", directory)
    _leaf("client", f"/O=runnel/OU=test/CN={client_cn}", "ca", "extendedKeyUsage=clientAuth\n", directory)
    _leaf("rogue", f"/O=runnel/OU=test/CN={client_cn}", "rogue-ca", "extendedKeyUsage=clientAuth\n", directory)
    _leaf("expired", "/O=runnel/OU=test/CN=expired", "ca", "extendedKeyUsage=clientAuth\n", directory, days=EXPIRED_DAYS)
    _openssl("pkcs12", "-export", "-in", "server.pem", "-inkey", "server.key", "-certfile", "ca.pem",
             "-name", "server", "-out", "server.p12", "-passout", f"pass:{PKCS12_PASSWORD}", cwd=directory)
    return Certs(directory)


def server_ssl_settings(certs: Certs, *, client_auth: str = "required", prefix: str = "") -> dict[str, str]:
    """The broker's keys for a PEM keystore and truststore (prefix e.g. "listener.name.ssl.")."""
    return {
        f"{prefix}ssl.keystore.type": "PEM",
        f"{prefix}ssl.keystore.location": str(certs.server_keystore),
        f"{prefix}ssl.truststore.type": "PEM",
        f"{prefix}ssl.truststore.location": str(certs.ca),
        f"{prefix}ssl.client.auth": client_auth,
    }


def write_client_properties(path: Path, certs: Certs, *, keystore: Path | None = None) -> Path:
    """A Java client.properties for SSL with a PEM truststore and (client) keystore."""
    ks = keystore if keystore is not None else certs.client_keystore
    path.write_text("security.protocol=SSL\n"
                    "ssl.truststore.type=PEM\n"
                    f"ssl.truststore.location={certs.ca}\n"
                    "ssl.keystore.type=PEM\n"
                    f"ssl.keystore.location={ks}\n")
    return path
