"""Hook specifications for eventsourcing plugins.

A plugin is any module or object with functions named like the specifications
below, decorated with ``hookimpl``, imported from :mod:`eventsourcing.plugins`
(``from eventsourcing.plugins import hookimpl``; it is defined here, beside
the specifications). Distributions make their plugin known through the
``eventsourcing`` entry-point group, for example::

    [project.entry-points.eventsourcing]
    sqlite = "eventsourcing.sqlite.plugin"

The entry-point group is loaded lazily, once, the first time the plugin
manager is used (see :mod:`eventsourcing.registry`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Mapping

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from eventsourcing.cli.command import Command
    from eventsourcing.persistence import (
        Cipher,
        Compressor,
        InfrastructureFactory,
        Transcoding,
    )

PROJECT_NAME = "eventsourcing"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def eventsourcing_persistence_modules() -> Mapping[str, type[InfrastructureFactory]]:
    """Return persistence modules provided by this plugin.

    :return: A mapping from a short name (as used in ``PERSISTENCE_MODULE``)
        to an :class:`~eventsourcing.persistence.InfrastructureFactory`
        subclass.

    Names must be unique across all installed plugins: two plugins claiming
    the same name is an error that names both plugins. Import heavy driver
    modules inside the implementation, not at plugin import time, so that
    listing installed backends stays cheap; that includes the ``__init__``
    of the package the plugin module is in, which is imported with it (see
    ``eventsourcing.postgres``, which defers its classes with a module
    ``__getattr__``).
    """


@hookspec
def eventsourcing_transcodings() -> Iterable[Transcoding]:
    """Return transcodings to register on every application's transcoder.

    :return: An iterable of :class:`~eventsourcing.persistence.Transcoding`
        instances.

    Transcodings are registered before the application's own
    ``register_transcodings()`` runs, so an application can still add its own.
    """


@hookspec
def eventsourcing_ciphers() -> Mapping[str, type[Cipher]]:
    """Return ciphers provided by this plugin.

    :return: A mapping from a short name (as used in ``CIPHER_TOPIC``) to a
        :class:`~eventsourcing.persistence.Cipher` subclass.

    The cipher class is constructed with the value of ``CIPHER_KEY``, as
    ``AESCipher(cipher_key)`` is in eventsourcing 9.1.
    """


@hookspec
def eventsourcing_compressors() -> Mapping[str, type[Compressor]]:
    """Return compressors provided by this plugin.

    :return: A mapping from a short name (as used in ``COMPRESSOR_TOPIC``) to
        a :class:`~eventsourcing.persistence.Compressor` subclass.
    """


@hookspec
def eventsourcing_commands() -> Iterable[Command]:
    """Return subcommands to add to the ``eventsourcing`` command.

    :return: An iterable of :class:`~eventsourcing.cli.Command` instances.
        Each has a ``name`` (``eventsourcing NAME``), a one-line ``help``,
        ``add_arguments(parser)`` for its own options (an
        :class:`argparse.ArgumentParser`), and ``run(args, context)``, which
        returns the exit status. The :class:`~eventsourcing.cli.Context`
        carries the settings (the environment overlaid with ``--env FILE``)
        and the ``--app`` names; ``context.progress()`` shows progress on a
        terminal, and :class:`~eventsourcing.cli.Store` opens an
        application's store from the settings as the application would.

    A subcommand lives in the distribution that has what it needs (the
    conformance suite adds ``conformance``). Names must be unique across
    installed plugins. Raise :class:`~eventsourcing.cli.CommandError` for bad
    input: the command prints it as one line and exits with status 2.
    Import heavy modules inside ``run``, so that ``eventsourcing --help``
    stays fast.
    """
