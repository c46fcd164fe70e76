"""``eventsourcing backends``: what is installed, from which distribution."""

from __future__ import annotations

import argparse
import json
from typing import Any, Dict, Iterable, List, Tuple, cast

from eventsourcing.cli.command import Command, Context
from eventsourcing.persistence import Transcoding
from eventsourcing.plugins import get_plugin_manager, installed_plugins
from eventsourcing.utils import get_topic

__all__ = ["BackendsCommand", "plugin_distributions"]

# (hook, heading) for the naming hooks, then the transcodings.
_KINDS = (
    ("eventsourcing_persistence_modules", "persistence modules"),
    ("eventsourcing_ciphers", "ciphers"),
    ("eventsourcing_compressors", "compressors"),
)


def plugin_distributions() -> Dict[str, Tuple[str, str]]:
    """Plugin name -> (distribution, version), as the plugin manager loaded them
    from their entry points (the core's built-in plugin is ``core``)."""
    return {p.name: (p.distribution, p.version) for p in installed_plugins()}


def installed() -> List[Dict[str, Any]]:
    """One row per installed persistence module, cipher, compressor and transcoding."""
    manager = get_plugin_manager()
    dists = plugin_distributions()
    rows: List[Dict[str, Any]] = []
    for hook_name, kind in _KINDS:
        for impl in getattr(manager.hook, hook_name).get_hookimpls():
            for name, cls in dict(impl.function() or {}).items():
                rows.append(_row(kind, name, get_topic(cls), impl.plugin_name, dists))
    for impl in manager.hook.eventsourcing_transcodings.get_hookimpls():
        contributed = cast("Iterable[Transcoding]", impl.function() or ())
        for transcoding in contributed:
            rows.append(
                _row(
                    "transcodings",
                    transcoding.name,
                    f"{get_topic(type(transcoding))} ({transcoding.type.__name__})",
                    impl.plugin_name,
                    dists,
                )
            )
    return rows


def _row(
    kind: str, name: str, topic: str, plugin: str, dists: Dict[str, Tuple[str, str]]
) -> Dict[str, Any]:
    # A plugin registered by code rather than an entry point has no distribution.
    distribution, version = dists.get(plugin, ("(registered in code)", ""))
    return {
        "kind": kind,
        "name": name,
        "topic": topic,
        "plugin": plugin,
        "distribution": distribution,
        "version": version,
    }


class BackendsCommand(Command):
    name = "backends"
    help = "list installed persistence modules, ciphers, compressors and transcodings"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON object per line")

    def run(self, args: argparse.Namespace, context: Context) -> int:
        rows = installed()
        out = context.out
        if args.json:
            for row in rows:
                out.write(json.dumps(row) + "\n")
            return 0
        width = max(len(r["name"]) for r in rows)
        topic_width = max(len(r["topic"]) for r in rows)
        for _, kind in (*_KINDS, ("", "transcodings")):
            out.write(f"{kind}:\n")
            for r in rows:
                if r["kind"] == kind:
                    out.write(
                        f"  {r['name']:<{width}}  {r['topic']:<{topic_width}}  "
                        f"{r['distribution']} {r['version']}".rstrip()
                        + "\n"
                    )
        return 0
