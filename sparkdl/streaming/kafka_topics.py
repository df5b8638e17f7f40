"""Which Kafka topics a source reads, and the JSON shape of its offsets (driver side, no Kafka client).

`Topics` is one topic by name, or every topic whose whole name matches a regular expression
(`re.fullmatch`, as Java's `Matcher.matches()` in Spark's connector); internal topics (names
starting with "__") never match. Offsets are {(topic, partition): next offset} in memory and
{"<topic>": {"<partition>": n}} in a checkpoint, the shape of Spark's `kafka` connector.
Checkpoints of sparkdl's source before topic patterns hold {"<partition>": n}: `parse_offsets`
reads them as offsets of the source's single topic.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Optional

from ..errors import ConfigError


@dataclass(frozen=True)
class Topics:
    """`name` or `pattern`, exactly one; ConfigError for neither, both, or a pattern that is no regex."""

    name: Optional[str] = None
    pattern: Optional[str] = None

    def __post_init__(self):
        if (self.name is None) == (self.pattern is None):
            raise ConfigError(f"a Kafka source needs exactly one of topic='<name>' or topic_pattern='<regex>' "
                              f"(job: --input-topic or --input-topic-pattern); got topic={self.name!r}, "
                              f"topic_pattern={self.pattern!r}")
        if self.name is not None and not self.name:
            raise ConfigError("topic is empty; pass the topic's name, or topic_pattern='<regex>'")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as error:
                raise ConfigError(f"topic_pattern {self.pattern!r} is not a regular expression ({error}); "
                                  f"write it like 'orders-.*' (it must match a whole topic name)") from None

    def matches(self, topic: str) -> bool:
        """Whether this source reads `topic` (a pattern never reads internal "__" topics)."""
        if self.name is not None:
            return topic == self.name
        return not topic.startswith("__") and re.fullmatch(self.pattern, topic) is not None

    def option(self, name_key: str, pattern_key: str) -> dict:
        """{name_key: name} or {pattern_key: pattern}: the one option naming these topics in a
        connector's (or a record's) own vocabulary."""
        return {name_key: self.name} if self.name is not None else {pattern_key: self.pattern}

    def __str__(self) -> str:
        return f"topic {self.name!r}" if self.name is not None else f"topics matching {self.pattern!r}"


def parse_offsets(offsets, topic: Optional[str] = None) -> dict:
    """{(topic, partition): offset} from offsets JSON (a str or its dict) of either shape:
    {"<topic>": {"<partition>": n}} or the one-topic {"<partition>": n}, read as offsets of `topic`."""
    offsets = json.loads(offsets) if isinstance(offsets, str) else (offsets or {})
    parsed = {}
    for key, value in offsets.items():
        if isinstance(value, dict):
            parsed.update({(key, int(p)): int(o) for p, o in value.items()})
        elif topic is None:
            raise ConfigError(f"Kafka offsets {json.dumps(offsets)[:200]} name no topic (a checkpoint of the "
                              f"one-topic sparkdl source); resume it with topic=<its topic>, not topic_pattern, "
                              f"or start a new checkpoint_location")
        else:
            parsed[(topic, int(key))] = int(value)
    return parsed


def offsets_json(offsets: dict) -> dict:
    """{"<topic>": {"<partition>": n}} of {(topic, partition): n} (what a checkpoint stores)."""
    nested: dict = {}
    for (topic, partition), offset in sorted(offsets.items()):
        nested.setdefault(topic, {})[str(partition)] = int(offset)
    return nested
