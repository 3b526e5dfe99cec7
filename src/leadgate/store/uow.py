"""The unit of work: one transaction boundary for every use case.

Services receive a :class:`UnitOfWork`, do their reads and writes through
``uow.session`` and call :meth:`UnitOfWork.commit` once. Leaving the block
without committing rolls everything back. Routes, CLI and worker never commit.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy.orm import Session, sessionmaker


class UnitOfWork:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory
        self._session: Session | None = None
        self.committed = False
        self._after_commit: list[Callable[[], None]] = []

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("unit of work used outside its 'with' block")
        return self._session

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def __enter__(self) -> Self:
        self._session = self._factory()
        self.committed = False
        self._after_commit = []
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._session is not None
        # close() rolls back whatever was not committed; unlike rollback() it does
        # not expire loaded objects, so values read in the block stay readable.
        self._session.close()
        self._session = None
        if self.committed and exc is None:
            for hook in self._after_commit:
                hook()

    def commit(self) -> None:
        self.session.commit()
        self.committed = True

    def rollback(self) -> None:
        self.session.rollback()

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once the transaction has committed (e.g. wake the worker)."""
        self._after_commit.append(hook)
