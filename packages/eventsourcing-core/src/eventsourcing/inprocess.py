"""Runners that run a whole system in this process, connected by in-memory prompts.

:class:`SingleThreadedRunner` processes prompts synchronously, in the thread
that saved; :class:`MultiThreadedRunner` gives each follower a thread of its
own. (:class:`~eventsourcing.processrunner.ProcessRunner` runs a system
across processes, through the database.)
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Type, cast

from eventsourcing.application import Application
from eventsourcing.follower import Follower, Leader, Promptable
from eventsourcing.runner import A, Runner, ThreadErrors
from eventsourcing.topology import System

__all__ = [
    "ErrorHandler",
    "MultiThreadedRunner",
    "MultiThreadedRunnerThread",
    "SingleThreadedRunner",
]

ErrorHandler = Callable[[str, BaseException], None]
"""Called as ``on_error(application_name, error)`` by a failing runner thread."""


class SingleThreadedRunner(Runner, Promptable):
    """Runs a system in the caller's thread.

    A leader's save returns after every follower downstream of it has
    processed the new events; an exception from a policy propagates to the
    code that saved (and the other prompts pending then are dropped: each
    follower catches up from its tracked position when next prompted).
    """

    __module__ = "eventsourcing.system"  # where 9.1 defined it: printed and in topics

    def __init__(self, system: System, env: Optional[Mapping[str, str]] = None) -> None:
        super().__init__(system, env)
        self.apps: Dict[str, Application[Any]] = {}
        self._prompted: List[str] = []
        self._is_prompting = False
        self._prompting_lock = threading.Lock()

    def start(self) -> None:
        """Construct the applications, connect them, and let followers catch up
        with what their leaders recorded before (a policy error propagates;
        the runner stays started)."""
        super().start()
        system = self.system
        try:
            for name in system.nodes:
                self.apps[name] = system.get_app_cls(name)(env=self.env)
            for leader_name, follower_name in system.edges:
                leader = cast(Leader[Any], self.apps[leader_name])
                follower = cast(Follower[Any], self.apps[follower_name])
                follower.follow(leader_name, leader.log)
            for leader_name in system.leaders:
                cast(Leader[Any], self.apps[leader_name]).lead(self)
        except BaseException:
            self._close_apps()
            raise
        for leader_name in system.leaders:
            self.receive_prompt(leader_name)

    def receive_prompt(self, leader_name: str) -> None:
        """Have each follower of ``leader_name`` pull and process.

        A prompt received while prompts are being processed (a follower's
        own new events, or a save in another thread) is queued, and is
        processed by the loop already running.
        """
        with self._prompting_lock:
            if leader_name not in self._prompted:
                self._prompted.append(leader_name)
            if self._is_prompting:
                return
            self._is_prompting = True
        try:
            while True:
                with self._prompting_lock:
                    if not self._prompted:
                        self._is_prompting = False
                        return
                    leader_name = self._prompted.pop(0)
                for follower_name in self.system.leads.get(leader_name, ()):
                    follower = cast(Follower[Any], self.apps[follower_name])
                    follower.pull_and_process(leader_name)
        except BaseException:
            with self._prompting_lock:
                self._prompted.clear()
                self._is_prompting = False
            raise

    def stop(self) -> None:
        """Close the applications."""
        self._close_apps()

    def _close_apps(self) -> None:
        apps = list(self.apps.values())
        self.apps.clear()
        for app in reversed(apps):
            app.close()

    def get(self, cls: Type[A]) -> A:
        return self._app(self.apps, cls)


class MultiThreadedRunnerThread(Promptable, threading.Thread):
    """Runs one follower for a :class:`MultiThreadedRunner`.

    Constructs the application in this thread, then waits to be prompted
    and pulls from each leader that prompted it. If the application cannot
    be constructed, or processing raises, the error is kept in
    :attr:`error`, ``on_error`` (if given) is called, and the thread ends:
    the follower stops where it failed and a new runner resumes it there.
    """

    __module__ = "eventsourcing.system"  # where 9.1 defined it: printed and in topics

    def __init__(
        self,
        app_class: Type[Follower[Any]],
        is_stopping: threading.Event,
        env: Optional[Mapping[str, str]] = None,
        on_error: Optional[ErrorHandler] = None,
    ) -> None:
        super().__init__(name=f"{app_class.name}-follower", daemon=True)
        self.app_class = app_class
        self.is_stopping = is_stopping
        self.env = env
        self.on_error = on_error
        self.app: Optional[Follower[Any]] = None
        self.error: Optional[BaseException] = None
        self.has_started = threading.Event()
        self.has_errored = threading.Event()
        self.is_prompted = threading.Event()
        self._prompted: List[str] = []
        self._prompted_lock = threading.Lock()

    def run(self) -> None:
        try:
            self.app = self.app_class(env=self.env)
        except BaseException as e:
            self._fail(e)
            return
        finally:
            self.has_started.set()
        try:
            while True:
                self.is_prompted.wait()
                if self.is_stopping.is_set():
                    return
                with self._prompted_lock:
                    names, self._prompted = self._prompted, []
                    self.is_prompted.clear()
                for name in names:
                    self.app.pull_and_process(name, stopping=self.is_stopping)
        except BaseException as e:
            self._fail(e)

    def _fail(self, error: BaseException) -> None:
        self.error = error
        self.has_errored.set()
        if self.on_error is not None:
            self.on_error(self.app_class.name, error)

    def receive_prompt(self, leader_name: str) -> None:
        with self._prompted_lock:
            if leader_name not in self._prompted:
                self._prompted.append(leader_name)
            self.is_prompted.set()


class MultiThreadedRunner(Runner, ThreadErrors):
    """Runs a system with one thread per follower.

    A leader's save returns at once; followers process in their threads.
    Errors are never swallowed: a failing follower's thread ends, calls
    ``on_error(application_name, error)`` if given, adds the error to
    :attr:`errors` (and sets :attr:`has_errors`), and :meth:`stop` raises
    the first error after it has stopped everything.
    """

    __module__ = "eventsourcing.system"  # where 9.1 defined it: printed and in topics

    thread_class: Type[MultiThreadedRunnerThread] = MultiThreadedRunnerThread

    def __init__(
        self,
        system: System,
        env: Optional[Mapping[str, str]] = None,
        on_error: Optional[ErrorHandler] = None,
    ) -> None:
        super().__init__(system, env)
        self.on_error = on_error
        self.apps: Dict[str, Application[Any]] = {}
        self.threads: Dict[str, MultiThreadedRunnerThread] = {}
        ThreadErrors.__init__(self)
        self.is_stopping = threading.Event()
        self._stopped = False

    def _thread_failed(self, app_name: str, error: BaseException) -> None:
        self._record_error(error)
        if self.on_error is not None:
            self.on_error(app_name, error)

    def start(self) -> None:
        """Start a thread per follower (which constructs its application),
        construct the other applications, connect them, and prompt every
        follower to catch up. Raises the error if an application cannot be
        constructed (after stopping what was started)."""
        super().start()
        system = self.system
        try:
            for name in system.followers:
                thread = self.thread_class(
                    system.follower_cls(name),
                    self.is_stopping,
                    env=self.env,
                    on_error=self._thread_failed,
                )
                self.threads[name] = thread
                thread.start()
            for name in system.nodes:
                if name not in self.threads:
                    self.apps[name] = system.get_app_cls(name)(env=self.env)
            for name, thread in self.threads.items():
                thread.has_started.wait()
                if thread.app is None:
                    assert thread.error is not None
                    raise thread.error
                self.apps[name] = thread.app
            for leader_name, follower_name in system.edges:
                leader = cast(Leader[Any], self.apps[leader_name])
                follower = cast(Follower[Any], self.apps[follower_name])
                follower.follow(leader_name, leader.log)
                leader.lead(self.threads[follower_name])
        except BaseException:
            self._shutdown()
            with self._errors_lock:
                self._errors.clear()
            raise
        for follower_name, thread in self.threads.items():
            for leader_name in system.follows[follower_name]:
                thread.receive_prompt(leader_name)

    def stop(self) -> None:
        """Stop every thread (waiting for a policy call in progress to finish),
        close the applications, then raise the first error a thread had."""
        if self._stopped:
            return
        self._shutdown()
        errors = self.errors
        if errors:
            raise errors[0]

    @property
    def has_stopped(self) -> bool:
        """Whether every follower's thread has ended (stopped or failed)."""
        return all(not thread.is_alive() for thread in self.threads.values())

    def _shutdown(self) -> None:
        self._stopped = True
        self.is_stopping.set()
        for thread in self.threads.values():
            thread.is_prompted.set()
        for thread in self.threads.values():
            if thread.is_alive():
                thread.join()
        apps = list(self.apps.values())
        self.apps.clear()
        for thread in self.threads.values():
            if thread.app is not None and thread.app not in apps:
                apps.append(thread.app)
        for app in reversed(apps):
            app.close()

    def get(self, cls: Type[A]) -> A:
        return self._app(self.apps, cls)
