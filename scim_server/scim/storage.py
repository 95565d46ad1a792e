"""rolebridge's ``ScimStorage``: SCIM Users and Groups in the directory mirror tables.

Every call is scoped to the tenant of the current request (the token's org and
its ``scim`` source): a resource of another org is not found, exactly like one
that does not exist. Filters, sorting and paging run in the database where the
filter translates (``scim_server.scim.filters``); otherwise the translated part
narrows the rows and scim2-models evaluates the rest, refusing with ``tooMany``
when that would mean scanning more than ``max_scan`` rows.

One SCIM operation is one transaction (``operation()``), at the end of which the
``after_write`` hook sees the users the operation touched, in the same session; or, when
the write had to wait for its org's lock (PostgreSQL), the users are queued and the hook
sees them in a pass of ``sync.backlog`` after the commit, with the others queued. A
read runs on the bare connection ``reader`` gives (the request's, the token check's)
with Core selects only, when there is one; a write's unit of work goes on in that
connection's transaction when there is one (PostgreSQL), and its pass waits on it.

A write takes its org's lock (``sync.reconcile.locked``, the lock its reconcile takes
anyway) before it reads or writes a row, so the writes of one org run one after the
other: a uniqueness check sees every committed create, a member added and its user
deleted at once cannot both win, and rows are never locked in two orders (no
deadlock). The unique indexes on ``scim_key`` hold uniqueness in the database even
for a writer that skips the lock; their violation answers 409 ``uniqueness``.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, cast

from scim2_models import (
    InvalidValueException,
    NotFoundException,
    NotImplementedException,
    PreconditionFailedException,
    Resource,
    ResourceType,
    ResponseParameters,
    ScimProvider,
    SearchRequest,
    TooManyException,
    UniquenessException,
)
from scim2_models.path import CompareOperator, Comparison
from scim2_server.storage import ScimStorage, SearchPage
from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    func,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from scim_server.ops import limits
from scim_server.scim import records
from scim_server.scim.filters import Translation, comparison_key, sort_column, translate
from sync import backlog
from sync.credentials.tokens import Tenant
from sync.mirror import rows as mirror
from sync.mirror.read import members_of
from sync.models import DirectoryGroup, DirectoryUser, utcnow
from sync.reconcile import locked, waited_for_lock

__all__ = ["AfterWrite", "MemberChange", "SqlScimStorage", "Touched", "wants_members"]

_DEEP = 1000  # from this offset on, a page is found by ids first (a deferred join)
_COLUMNS = ("id", "ext_id", "resource", "created_at", "updated_at", "version")


@dataclass(slots=True)
class Touched:
    """Whose roles one SCIM operation may change: user ids, and groups whose users all count."""

    users: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.users or self.groups)


AfterWrite = Callable[[Session, Tenant, Touched], None]


@dataclass(frozen=True, slots=True)
class MemberChange:
    """A PATCH that only adds, removes or replaces group members."""

    add: tuple[tuple[str, str | None], ...] = ()
    remove: frozenset[str] = frozenset()
    replace: tuple[tuple[str, str | None], ...] | None = None


@dataclass(slots=True)
class _Operation:
    db: Session | Connection  # a read runs on the request's bare connection
    tenant: Tenant
    touched: Touched = field(default_factory=Touched)
    # a write's rows read so far, locked (resource type, id): a PATCH reads its resource
    # to apply the operations, then replaces it
    rows: dict[tuple[str, str], Row] = field(default_factory=dict)

    @property
    def session(self) -> Session:
        """The unit of work of a write."""
        assert isinstance(self.db, Session), "a write needs a Session"
        return self.db


Row = DirectoryUser | DirectoryGroup


class SqlScimStorage(ScimStorage):
    """SCIM resources on SQLAlchemy, one tenant per call (see the module docstring)."""

    supports_cursors = False

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        provider: ScimProvider,
        tenant: Callable[[], Tenant],
        *,
        max_scan: int = 20_000,
        after_write: AfterWrite | None = None,
        writes: Callable[[], bool] = lambda: False,
        reader: Callable[[], Connection | None] = lambda: None,
        after_commit: Callable[[], object] | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._writes = writes
        self._reader = reader
        self.provider = provider
        self._tenant = tenant
        self.max_scan = max_scan
        self.after_write = after_write
        self.after_commit = after_commit
        self._current: ContextVar[_Operation | None] = ContextVar(
            f"scim_op_{id(self)}", default=None
        )

    # -- transactions ---------------------------------------------------

    @contextmanager
    def operation(self) -> Iterator[None]:
        """One SCIM operation: one transaction, the after-write hook inside it, and once
        it committed the after-commit hook (the planner's statistics)."""
        if self._current.get() is not None:
            yield
            return
        writes = self._writes()
        connection = self._reader()  # the request's, when the token check kept it open
        if connection is not None and not writes:
            # a read: the request's connection (the token check's), no ORM session
            token = self._current.set(_Operation(connection, self._tenant()))
            try:
                yield
            finally:
                self._current.reset(token)
            return
        tenant = self._tenant()
        queued: set[str] = set()  # this write's users, when it waited for the lock
        try:
            with self._unit(tenant, writes, connection) as session:
                op = _Operation(session, tenant)
                token = self._current.set(op)
                try:
                    yield
                    if op.touched and self.after_write is not None:
                        session.flush()
                        op.touched.users |= mirror.users_under(
                            session, tenant.source_id, op.touched.groups
                        )
                        if op.touched.users and waited_for_lock(session):
                            # the org's lock was taken: other writes are under way, so
                            # plan with them in one pass once this one is committed
                            backlog.queue(session, tenant.org_id, op.touched.users)
                            queued = set(op.touched.users)
                        else:
                            self.after_write(session, op.tenant, op.touched)
                finally:
                    self._current.reset(token)
        except IntegrityError as exc:
            conflict = _uniqueness(exc)
            if conflict is None:
                raise
            raise conflict from exc
        if queued and self.after_write is not None:
            # answered once its users are planned, by this write's pass or an earlier one
            after_write = self.after_write
            backlog.drain(
                self._session_factory,
                tenant.org_id,
                queued,
                lambda session, users: after_write(session, tenant, Touched(set(users))),
                connection,
            )
        if self.after_commit is not None:
            self.after_commit()  # committed, the org's lock released

    def _unit(
        self, tenant: Tenant, writes: bool, bind: Connection | None
    ) -> AbstractContextManager[Session]:
        """A write's transaction holds the org's lock (and SQLite's write lock) from its start.
        ``bind``: the request's connection, its transaction begun by the token check
        (PostgreSQL), which the write goes on with instead of taking another connection."""
        if writes:
            return locked(self._session_factory, tenant.org_id, bind)
        return _transaction(self._session_factory)

    @contextmanager
    def _op(self) -> Iterator[_Operation]:
        current = self._current.get()
        if current is not None:
            yield current
            return
        with self.operation():
            yield cast(_Operation, self._current.get())

    # -- the ScimStorage interface --------------------------------------

    def get(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        response_parameters: ResponseParameters[Any] | None = None,
    ) -> Resource[Any]:
        """The resource with this id in the current tenant."""
        with self._op() as op:
            members = wants_members(response_parameters)
            if isinstance(op.db, Session):  # in a write: the row it may change next
                found = self._row(op, resource_type, resource_id, lock=True)
                return self._build(op, resource_type, [found], members)[0]
            table = self._table(resource_type)
            params = {"org": op.tenant.org_id, "source": op.tenant.source_id, "value": resource_id}
            row = op.db.execute(_lookup(table, "ext_id"), params | _WHOLE).first()
            if row is None:
                raise NotFoundException(detail=f"{resource_type.name} {resource_id!r} not found")
            return self._build(op, resource_type, [row], members)[0]

    def search(
        self,
        resource_types: list[ResourceType],
        search_request: SearchRequest[Any],
        *,
        position: Any = None,
    ) -> SearchPage:
        """One page of the tenant's matching resources and their number."""
        if len(resource_types) != 1:
            raise NotImplementedException(detail="Searching at the root is not supported")
        (resource_type,) = resource_types
        with self._op() as op:
            ast = search_request.filter.ast if search_request.filter is not None else None
            found = self._lookup_page(op, resource_type, search_request, ast)
            if found is not None:
                return found
            collate = self._collate(op.db)
            translation = translate(ast, _kind(resource_type), collate)
            order = self._order(collate, resource_type, search_request)
            if translation.exact and order is not None:
                return self._sql_page(op, resource_type, search_request, translation, order)
            return self._scan_page(op, resource_type, search_request, translation)

    def create(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        """Store a new user or group in the current tenant."""
        resource = resource.model_copy(deep=True)
        with self._op() as op:
            now = utcnow()
            row: Row
            if _kind(resource_type) == "User":
                columns = records.user_columns(resource)
                _check_lengths(DirectoryUser, columns)
                # no lookup first: the (source, scim_key) unique index refuses a taken
                # userName, and ``operation`` answers that with the same 409
                columns["scim_key"] = columns["user_name_key"]
                row = self._insert(op, DirectoryUser, columns, resource, now)
                op.touched.users.add(row.ext_id)
            else:
                columns = records.group_columns(resource)
                _check_lengths(DirectoryGroup, columns)
                self._check_display_name(op, columns["display_name_key"], None)
                members = self._resolve_members(op, _members(resource))
                columns["scim_key"] = columns["display_name_key"]
                row = self._insert(op, DirectoryGroup, columns, resource, now)
                mirror.insert_members(op.session, row.id, members)
                op.touched.groups.add(row.ext_id)
            resource.id = row.ext_id
            resource.meta = records.meta(row, resource_type.name or "")
            return resource

    def update(
        self,
        resource_type: ResourceType,
        resource: Resource[Any],
        *,
        expected_version: str | None = None,
    ) -> Resource[Any]:
        """Replace a stored user or group with ``resource``."""
        resource = resource.model_copy(deep=True)
        with self._op() as op:
            row = self._row(op, resource_type, cast(str, resource.id), lock=True)
            _check_version(row, expected_version)
            if isinstance(row, DirectoryUser):
                columns = records.user_columns(resource)
                _check_lengths(DirectoryUser, columns)
                if columns["user_name_key"] != row.user_name_key:  # renamed
                    self._check_user_name(op, columns["user_name_key"], row.id)
                columns["scim_key"] = columns["user_name_key"]
                op.touched.users.add(row.ext_id)
            else:
                columns = records.group_columns(resource)
                _check_lengths(DirectoryGroup, columns)
                if columns["display_name_key"] != row.display_name_key:  # renamed
                    self._check_display_name(op, columns["display_name_key"], row.id)
                columns["scim_key"] = columns["display_name_key"]
                wanted = self._resolve_members(op, _members(resource))
                _touch(op, mirror.replace_members(op.session, row.id, wanted))
                op.touched.groups.add(row.ext_id)  # a rename can change every member's roles
            mirror.update_row(op.session, row, columns, records.document(resource))
            resource.meta = records.meta(row, resource_type.name or "")
            return resource

    def delete(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        expected_version: str | None = None,
    ) -> None:
        """Delete a user or group; it leaves every group it was a member of."""
        with self._op() as op:
            row = self._row(op, resource_type, resource_id, lock=True)
            _check_version(row, expected_version)
            if isinstance(row, DirectoryUser):
                op.touched.users.add(row.ext_id)
            else:
                op.touched.users |= mirror.users_under(op.session, row.source_id, {row.ext_id})
            mirror.delete_row(op.session, row)
            op.rows.pop((type(row).__name__, resource_id), None)

    # -- the member fast path -------------------------------------------

    def patch_members(
        self,
        resource_type: ResourceType,
        resource_id: str,
        change: MemberChange,
        *,
        members: bool = True,
    ) -> Resource[Any]:
        """Apply a members-only PATCH without loading the group's members."""
        with self._op() as op:
            row = self._row(op, resource_type, resource_id, lock=True)
            assert isinstance(row, DirectoryGroup)
            if change.replace is not None:
                wanted = self._resolve_members(op, change.replace)
                changed = mirror.replace_members(op.session, row.id, wanted)
            else:
                changed = mirror.remove_members(op.session, row.id, change.remove)
                # the added values' kinds and which are members already: one statement
                # (after the removals, which it sees)
                added, present = self._resolve_members_in(op, change.add, row.id)
                changed |= mirror.add_members(op.session, row.id, added, present)
            _touch(op, changed)
            if changed:
                mirror.bump(row)
                op.session.flush()
            return self._build(op, resource_type, [row], members)[0]

    # -- rows -------------------------------------------------------------

    def _model_of(self, resource_type: ResourceType) -> type[Resource[Any]]:
        return cast(type[Resource[Any]], self.provider.model_for(resource_type))

    @staticmethod
    def _table(resource_type: ResourceType) -> type[Row]:
        return DirectoryUser if _kind(resource_type) == "User" else DirectoryGroup

    def _scope(
        self, op: _Operation, table: type[Row], *, by_org: bool = False
    ) -> list[ColumnElement[bool]]:
        """The tenant's rows (``_tenant_rows``) with the tenant's org and source bound."""
        return _tenant_rows(table, by_org, op.tenant)

    def _row(
        self, op: _Operation, resource_type: ResourceType, resource_id: str, *, lock: bool = False
    ) -> Row:
        table = self._table(resource_type)
        key = (table.__name__, resource_id)
        row = op.rows.get(key)
        if row is not None:
            return row  # read (and locked) earlier in this write
        params = {"org": op.tenant.org_id, "source": op.tenant.source_id, "value": resource_id}
        row = op.session.scalar(_row_by_id(table, lock), params)
        if row is None:
            raise NotFoundException(detail=f"{resource_type.name} {resource_id!r} not found")
        if lock:
            op.rows[key] = row
        return cast(Row, row)

    def _insert(
        self,
        op: _Operation,
        table: type[Row],
        columns: dict[str, Any],
        resource: Resource[Any],
        now: Any,
    ) -> Row:
        tenant = op.tenant
        ext_id = uuid.uuid4().hex  # the service provider assigns ids (RFC 7643 section 3.1)
        document = records.document(resource)
        return mirror.insert_row(
            op.session, table, (tenant.org_id, tenant.source_id, ext_id), columns, document, now
        )

    def _check_user_name(self, op: _Operation, key: str, own_id: int | None) -> None:
        if self._taken(op, DirectoryUser, "user_name_key", key, own_id):
            raise UniquenessException(detail="userName is already taken")

    def _check_display_name(self, op: _Operation, key: str, own_id: int | None) -> None:
        if self._taken(op, DirectoryGroup, "display_name_key", key, own_id):
            raise UniquenessException(detail="a group with this displayName already exists")

    @staticmethod
    def _taken(op: _Operation, table: type[Row], column: str, key: str, own: int | None) -> bool:
        """Whether another row of the tenant has this key."""
        params = {"org": op.tenant.org_id, "source": op.tenant.source_id, "value": key}
        return any(found != own for found in op.session.scalars(_ids_by(table, column), params))

    # -- building resources ---------------------------------------------

    def _build(
        self, op: _Operation, resource_type: ResourceType, rows: Sequence[Any], members: bool
    ) -> list[Resource[Any]]:
        """Resources from rows (ORM objects or the ``_COLUMNS`` of a search)."""
        model = self._model_of(resource_type)
        listed: dict[int, list[dict[str, Any]]] = {}
        group = _kind(resource_type) == "Group"
        if members and group:
            listed = self._members_of(op, [row.id for row in rows])
        built = []
        for row in rows:
            data = dict(row.resource or {})
            data["id"] = row.ext_id
            if group and row.id in listed:
                data["members"] = listed[row.id]
            resource = model.model_validate(data, scim_ctx=None)
            resource.meta = records.meta(row, resource_type.name or "")
            built.append(resource)
        return built

    def _members_of(self, op: _Operation, group_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        found: dict[int, list[dict[str, Any]]] = {}
        for group_id, kind, value, display in members_of(op.db, group_ids):
            entry = {"value": value, "type": kind, "$ref": f"{kind}s/{value}"}
            if display:
                entry["display"] = display
            found.setdefault(group_id, []).append(entry)
        return found

    # -- members ----------------------------------------------------------

    def _resolve_members(
        self, op: _Operation, members: Sequence[tuple[str, str | None]]
    ) -> dict[str, tuple[str, str | None]]:
        """Member value -> (type, display); a value that is no member of the tenant is refused."""
        return self._resolve_members_in(op, members, None)[0]

    def _resolve_members_in(
        self, op: _Operation, members: Sequence[tuple[str, str | None]], group_id: int | None
    ) -> tuple[dict[str, tuple[str, str | None]], set[str]]:
        """``_resolve_members``, and with ``group_id`` which values are its members already."""
        values = list(dict.fromkeys(value for value, _ in members))
        kinds, present = mirror.member_types_in(op.session, op.tenant.source_id, values, group_id)
        unknown = [value for value in values if value not in kinds]
        if unknown:
            raise InvalidValueException(detail=f"members: no user or group with id {unknown[0]!r}")
        return {value: (kinds[value], display) for value, display in members}, present

    # -- searching ------------------------------------------------------

    def _lookup_page(
        self,
        op: _Operation,
        resource_type: ResourceType,
        search_request: SearchRequest[Any],
        ast: Any,
    ) -> SearchPage | None:
        """``userName eq``, ``externalId eq``, ``displayName eq``: a prepared statement.

        IdPs send these on every sync (Okta before each create, Entra for each object),
        so they skip building a statement from the filter tree.
        """
        kind = _kind(resource_type)
        column = _lookup_column(ast, kind)
        if column is None or search_request.sort_by is not None or not search_request.count:
            return None
        name, value = column
        params = {"org": op.tenant.org_id, "source": op.tenant.source_id, "value": value}
        params |= {"offset": search_request.start_index_0 or 0, "limit": search_request.count}
        rows = list(op.db.execute(_lookup(self._table(resource_type), name), params))
        if params["offset"] or len(rows) >= search_request.count:
            return None  # a big result: the general path counts it
        resources = self._build(op, resource_type, rows, wants_members(search_request))
        return SearchPage(len(rows), resources)

    @staticmethod
    def _collate(db: Session | Connection) -> Callable[[ColumnElement[Any]], ColumnElement[Any]]:
        """Strings order by code point, as scim2-models sorts them, on every database."""
        dialect = db.dialect if isinstance(db, Connection) else db.get_bind().dialect
        if dialect.name == "postgresql":
            return lambda column: column.collate("C")
        return lambda column: column

    def _order(
        self,
        collate: Callable[[ColumnElement[Any]], ColumnElement[Any]],
        resource_type: ResourceType,
        search_request: SearchRequest[Any],
    ) -> list[ColumnElement[Any]] | None:
        """ORDER BY for the request, or None when the sort attribute has no column."""
        table = self._table(resource_type)
        if search_request.sort_by is None and search_request.filter is None:
            return [table.ext_id.asc()]  # walks the (source_id, ext_id) index
        if search_request.sort_by is None:
            # ``ext_id || ''`` keeps SQLite from walking the ext_id index past a filter
            # that an index answers directly (userName eq ...), then sorting a few rows
            return [(table.ext_id + "").asc()]
        column = sort_column(str(search_request.sort_by), _kind(resource_type))
        if column is None:
            return None
        descending = search_request.sort_order == SearchRequest.SortOrder.descending
        value = cast(ColumnElement[Any], column.column)
        if column.kind in ("key", "exact"):
            value = collate(value)
        order: list[ColumnElement[Any]] = []
        if column.nullable:
            missing = column.column.is_(None)
            order.append(missing.desc() if descending else missing.asc())
        order.append(value.desc() if descending else value.asc())
        order.append(table.ext_id.asc())
        return order

    def _sql_page(
        self,
        op: _Operation,
        resource_type: ResourceType,
        search_request: SearchRequest[Any],
        translation: Translation,
        order: list[ColumnElement[Any]],
    ) -> SearchPage:
        table = self._table(resource_type)
        # the filter and sort indexes start with org_id; a plain listing walks (source_id, ext_id)
        by_org = search_request.filter is not None or search_request.sort_by is not None
        where = [*self._scope(op, table, by_org=by_org), translation.clause]
        offset, count = search_request.start_index_0 or 0, search_request.count
        rows: list[Any] = []
        if count != 0:
            rows = self._page_rows(op, table, where, order, offset, count)
        if offset == 0 and count is not None and len(rows) < count:
            total = len(rows)  # the whole result fits in the first page: no count query
        else:
            total = op.db.scalar(select(func.count()).select_from(table).where(*where)) or 0
        wants = wants_members(search_request)
        return SearchPage(total, self._build(op, resource_type, rows, wants))

    def _page_rows(
        self,
        op: _Operation,
        table: type[Row],
        where: list[ColumnElement[bool]],
        order: list[ColumnElement[Any]],
        offset: int,
        count: int | None,
    ) -> list[Any]:
        """One page of rows; a deep page walks the index for ids first, then loads 100 rows."""
        columns = [getattr(table, name) for name in _COLUMNS]
        if offset < _DEEP:
            query = select(*columns).where(*where).order_by(*order).offset(offset).limit(count)
            return list(op.db.execute(query))
        ids_query = select(table.id).where(*where).order_by(*order).offset(offset).limit(count)
        ids = list(op.db.scalars(ids_query))
        loaded = {row.id: row for row in op.db.execute(select(*columns).where(table.id.in_(ids)))}
        return [loaded[i] for i in ids]

    def _scan_page(
        self,
        op: _Operation,
        resource_type: ResourceType,
        search_request: SearchRequest[Any],
        translation: Translation,
    ) -> SearchPage:
        table = self._table(resource_type)
        where = [*self._scope(op, table, by_org=True), translation.clause]
        scanned = op.db.scalar(select(func.count()).select_from(table).where(*where)) or 0
        if scanned > self.max_scan:
            raise TooManyException(
                detail=f"This filter or sort would scan {scanned} resources; "
                f"filter on userName, externalId, id, active, meta or displayName"
            )
        columns = [getattr(table, name) for name in _COLUMNS]
        rows = list(op.db.execute(select(*columns).where(*where).order_by(table.ext_id)))
        resources = self._build(op, resource_type, rows, members=True)
        if search_request.filter is not None:
            resources = [r for r in resources if search_request.filter.match(r)]
        resources = search_request.sort(resources)
        start = search_request.start_index_0 or 0
        stop = None if search_request.count is None else start + search_request.count
        return SearchPage(len(resources), resources[start:stop])


_WHOLE = {"offset": 0, "limit": 1}
_UNIQUE = {
    # the index's name (PostgreSQL's message) or its columns (SQLite's): what is taken
    ("uq_dir_users_source_scim_key", "directory_users.scim_key"): "userName is already taken",
    ("uq_dir_groups_source_scim_key", "directory_groups.scim_key"): (
        "a group with this displayName already exists"
    ),
}


@contextmanager
def _transaction(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session, session.begin():
        yield session


def _uniqueness(exc: IntegrityError) -> UniquenessException | None:
    """The 409 for a violated ``scim_key`` index (a lost race); None for any other."""
    message = str(exc.orig)
    for names, detail in _UNIQUE.items():
        if any(name in message for name in names):
            return UniquenessException(detail=detail)
    return None


_LOOKUPS = {
    "User": {"username": "user_name_key", "externalid": "external_id", "id": "ext_id"},
    "Group": {"displayname": "display_name_key", "externalid": "external_id", "id": "ext_id"},
}


def _lookup_column(ast: Any, kind: str) -> tuple[str, str] | None:
    """(column, value) when a filter is ``attr eq "string"`` on a looked-up attribute."""
    if not isinstance(ast, Comparison) or ast.op != CompareOperator.eq:
        return None
    if not isinstance(ast.value, str) or ast.attr_path.sub_attr is not None:
        return None
    urn = ast.attr_path.uri
    if urn is not None and urn.rsplit(":", 1)[-1].casefold() != kind.casefold():
        return None
    column = _LOOKUPS[kind].get(ast.attr_path.attr.casefold())
    if column is None:
        return None
    keyed = column.endswith("_key")
    return column, comparison_key(ast.value) if keyed else ast.value


def _tenant_rows(table: type[Row], by_org: bool, tenant: Tenant | None = None) -> list[Any]:
    """The tenant's rows: its org and its ``scim`` source (bound: org, source, at each
    call, unless ``tenant`` gives them here).

    Lookups by id go through the (source_id, ext_id) index; ``by_org`` is for lookups
    whose index starts with org_id (userName, displayName). The other column is written
    ``+ 0`` so that it checks rows without steering the planner.
    """
    org_id, source_id = table.org_id, table.source_id
    org: Any
    source: Any
    if tenant is None:
        org, source = bindparam("org"), bindparam("source")
    else:
        org, source = bindparam("org", tenant.org_id), bindparam("source", tenant.source_id)
    if by_org:
        return [org_id == org, (source_id + 0) == source]
    return [(org_id + 0) == org, source_id == source]


@functools.cache
def _row_by_id(table: type[Row], lock: bool) -> Any:
    """The tenant's row (the ORM object) with this id (bound: org, source, value)."""
    query = select(table).where(*_tenant_rows(table, False), table.ext_id == bindparam("value"))
    return query.with_for_update() if lock else query


@functools.cache
def _ids_by(table: type[Row], column: str) -> Any:
    """The ids of the tenant's rows with this key (bound: org, source, value)."""
    where = [*_tenant_rows(table, True), getattr(table, column) == bindparam("value")]
    return select(table.id).where(*where)


@functools.cache
def _lookup(table: type[Row], column: str) -> Any:
    """The prepared lookup of one tenant's rows by one column (bound: org, source, value)."""
    return (
        select(*(getattr(table, name) for name in _COLUMNS))
        .where(
            *_tenant_rows(table, column != "ext_id"), getattr(table, column) == bindparam("value")
        )
        .order_by((table.ext_id + "").asc())
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
    )


# the stored columns a SCIM attribute fills, checked in this order
def _check_lengths(table: type[Row], columns: dict[str, Any]) -> None:
    """400 naming the attribute whose value is longer than its column (PostgreSQL's limit)."""
    refusal = limits.length_refusal("User" if table is DirectoryUser else "Group", columns)
    if refusal is not None:
        raise InvalidValueException(detail=refusal)


def _kind(resource_type: ResourceType) -> str:
    return "User" if resource_type.id == "User" else "Group"


def _check_version(row: Row, expected_version: str | None) -> None:
    if expected_version is not None and expected_version != records.etag(row.version):
        raise PreconditionFailedException(detail="The resource has changed (If-Match)")


def _members(resource: Resource[Any]) -> list[tuple[str, str | None]]:
    entries = getattr(resource, "members", None) or []
    return [(entry.value, entry.display) for entry in entries if entry.value]


def wants_members(parameters: ResponseParameters[Any] | None) -> bool:
    """Whether a response keeps group members (Entra asks ``excludedAttributes=members``)."""
    if parameters is None:
        return True
    names = [_attribute(path) for path in parameters.attributes or []]
    if names:
        return any(name == "members" for name in names)
    excluded = {_attribute(path, whole=True) for path in parameters.excluded_attributes or []}
    return "members" not in excluded


def _attribute(path: Any, *, whole: bool = False) -> str:
    text = str(path).casefold().rsplit(":", 1)[-1]
    return text if whole else text.split(".", 1)[0].split("[", 1)[0]


def _touch(op: _Operation, members: dict[str, str]) -> None:
    """Record added or removed members (value -> type) as touched by the operation."""
    for value, kind in members.items():
        if kind == "User":
            op.touched.users.add(value)
        else:
            op.touched.groups.add(value)  # a nested group: all its users' roles may change
