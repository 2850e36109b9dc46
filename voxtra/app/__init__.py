"""The app: :class:`VoxtraApp` (the front: settings, routes, lifecycle, originate),
its calls (:mod:`~voxtra.app.calls`), recovery after a reconnect
(:mod:`~voxtra.app.recovery`), routing and the blocked-loop watchdog."""

from voxtra.app.application import VoxtraApp

__all__ = ["VoxtraApp"]
