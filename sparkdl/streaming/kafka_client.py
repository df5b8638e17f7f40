"""Where a Kafka client connects and how it authenticates, in each client's own vocabulary.

`KafkaConnection` holds where Kafka is and how to authenticate, checked when it is built: the
fields KafkaSource, KafkaSink and KafkaClient share. One `KafkaClient` (`connection.client`, built on
the driver from a KafkaSource / KafkaSink) gives:
* `librdkafka()`: the confluent-kafka settings of sparkdl's own source and sink,
* `connector_options()`: the `kafka.*` options of Spark's `kafka` connector (a JAAS line for SASL),
* `reader_options()` / `from_options()`: the options of the `sparkdl_kafka` data source, whose
  password option Spark redacts in plans and the UI (its name holds "password").
`str(client)` is the bootstrap servers only, so error messages never print a password.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..errors import ConfigError

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_LOGIN_MODULES = {"PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
                  "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
                  "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule"}
_READER_KEYS = {"bootstrap": "bootstrap_servers", "securityProtocol": "security_protocol",
                "saslMechanism": "sasl_mechanism", "saslUsername": "sasl_username", "saslPassword": "sasl_password"}
_SECURITY = ("security_protocol", "sasl_mechanism", "sasl_username", "sasl_password")


@dataclass(frozen=True, kw_only=True)
class KafkaConnection:
    """Bootstrap servers (positional) and the keyword-only security settings (driver side)."""

    bootstrap_servers: str = field(kw_only=False)
    security_protocol: Optional[str] = None  # None: PLAINTEXT
    sasl_mechanism: Optional[str] = None     # PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (with a SASL protocol)
    sasl_username: Optional[str] = None
    sasl_password: Optional[str] = field(default=None, repr=False)

    def __post_init__(self):
        protocol = self.security_protocol
        if protocol is not None and protocol not in PROTOCOLS:
            raise ConfigError(f"security_protocol must be one of {PROTOCOLS}, got {protocol!r}")
        sasl = protocol in ("SASL_PLAINTEXT", "SASL_SSL")
        if sasl and self.sasl_mechanism not in _LOGIN_MODULES:
            raise ConfigError(f"security_protocol={protocol!r} needs sasl_mechanism, one of "
                              f"{sorted(_LOGIN_MODULES)}; got {self.sasl_mechanism!r}")
        if sasl and not (self.sasl_username and self.sasl_password):
            raise ConfigError(f"SASL {self.sasl_mechanism} needs sasl_username and sasl_password (the job reads "
                              f"the password from the environment variable named by --kafka-sasl-password-env)")
        if not sasl and (self.sasl_mechanism or self.sasl_username or self.sasl_password):
            raise ConfigError(f"sasl_mechanism / sasl_username / sasl_password need security_protocol "
                              f"'SASL_PLAINTEXT' or 'SASL_SSL', got {protocol!r}")

    @property
    def client(self) -> "KafkaClient":
        """The KafkaClient of these settings (what executors get: it pickles, it has no extra fields)."""
        return KafkaClient(self.bootstrap_servers, **{name: getattr(self, name) for name in _SECURITY})


@dataclass(frozen=True, kw_only=True)
class KafkaClient(KafkaConnection):
    """A KafkaConnection in each client's own vocabulary (see the module docstring)."""

    def __str__(self) -> str:
        return self.bootstrap_servers

    @property
    def uses_sasl(self) -> bool:
        return self.sasl_mechanism is not None

    def librdkafka(self) -> dict:
        """confluent-kafka settings: servers and, when set, protocol and SASL credentials."""
        config = {"bootstrap.servers": self.bootstrap_servers}
        if self.security_protocol:
            config["security.protocol"] = self.security_protocol
        if self.uses_sasl:
            config.update({"sasl.mechanism": self.sasl_mechanism, "sasl.username": self.sasl_username,
                           "sasl.password": self.sasl_password})
        return config

    def connector_options(self) -> dict:
        """Options of Spark's `kafka` connector (the Java client's names, prefixed `kafka.`)."""
        options = {"kafka.bootstrap.servers": self.bootstrap_servers}
        if self.security_protocol:
            options["kafka.security.protocol"] = self.security_protocol
        if self.uses_sasl:
            def quoted(value: str) -> str:
                return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

            options["kafka.sasl.mechanism"] = self.sasl_mechanism
            options["kafka.sasl.jaas.config"] = (f"{_LOGIN_MODULES[self.sasl_mechanism]} required username="
                                                 f"{quoted(self.sasl_username)} password={quoted(self.sasl_password)};")
        return options

    def reader_options(self) -> dict:
        """The `sparkdl_kafka` data source's options for this client (string values)."""
        return {key: getattr(self, name) for key, name in _READER_KEYS.items() if getattr(self, name)}

    @classmethod
    def from_options(cls, options) -> "KafkaClient":
        """The client a `sparkdl_kafka` reader was given (executor and driver)."""
        return cls(**{name: options.get(key) for key, name in _READER_KEYS.items() if options.get(key)})


def client_config(client) -> dict:
    """librdkafka settings of a KafkaClient or of a bare 'host:port' bootstrap string."""
    return client.librdkafka() if isinstance(client, KafkaClient) else {"bootstrap.servers": client}
