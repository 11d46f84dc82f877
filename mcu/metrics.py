"""Counters the MCU keeps about itself, for the web control and the logs.

A plain in-process registry (no exporter library: nothing scrapes this MCU yet);
``render()`` gives Prometheus' text format so one can be added without changes here.
"""

from __future__ import annotations

from collections import Counter


class Metrics:
    def __init__(self) -> None:
        self._counts: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()

    def inc(self, name: str, **labels: str) -> None:
        self._counts[(name, tuple(sorted(labels.items())))] += 1

    def value(self, name: str, **labels: str) -> int:
        return self._counts[(name, tuple(sorted(labels.items())))]

    def render(self) -> str:
        lines = []
        for (name, labels), count in sorted(self._counts.items()):
            tags = ",".join(f'{k}="{v}"' for k, v in labels)
            lines.append(f"mcu_{name}{{{tags}}} {count}" if tags else f"mcu_{name} {count}")
        return "\n".join(lines) + "\n"
