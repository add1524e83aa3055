"""A process-wide choice among exact, interchangeable kernels ("routes").

A route decides which kernel computes a result, never the result itself, so it is an
engineering setting like the device: it never enters a run id. Modules that offer routes
(``landscape.nn.conv_routes``, ``landscape.search.methods.select``) keep one
``RouteSwitch`` and expose its ``current`` / ``set_route`` / ``use``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class RouteSwitch:
    """The route now in force among ``routes``, starting at ``default``.

    ``what`` names the choice in errors ("conv route", "top-k route").
    """

    def __init__(self, what: str, routes: tuple[str, ...], default: str) -> None:
        if default not in routes:
            raise ValueError(f"{what} default {default!r} is not one of {', '.join(routes)}")
        self.what = what
        self.routes = routes
        self._route = default

    def current(self) -> str:
        """The route taken now."""
        return self._route

    def set_route(self, route: str) -> str:
        """Make ``route`` the one taken from now on; returns the previous one."""
        if route not in self.routes:
            raise ValueError(f"{self.what} {route!r} is unknown; choose one of {', '.join(self.routes)}")
        previous, self._route = self._route, route
        return previous

    @contextmanager
    def use(self, route: str) -> Iterator[str]:
        """Take ``route`` inside the ``with`` block; the previous route is restored after it."""
        previous = self.set_route(route)
        try:
            yield route
        finally:
            self.set_route(previous)
