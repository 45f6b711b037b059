"""Mutations: seed 001's (reserve, confirm, cancel, decrease, increase) under its names, its batch
threshold update, then Stockroom's own transactions. Every change goes through the same service
call as the REST API, with the same role rule (app.web.auth) and the same idempotency service
(`app.services.idempotency.once`): a key is scoped to the caller, kept with the change's outcome in
its transaction, and a repeat is answered from that outcome (`replayed: true`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Annotated, Any, Generic, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry import Info

from app.domain.access import Role
from app.domain.errors import Conflict, FieldError, FieldErrors, InvalidInput, NotFound
from app.domain.immutable import immutable
from app.domain.reservations import Status
from app.intake.requests import parse_confirm, parse_reservation, stock_threshold
from app.persistence.locations import LocationRecord
from app.services import idempotency
from app.services.idempotency import Key
from app.services.outcomes import Change, Confirmed, EarlierAnswer, Held, Refused
from app.services.records import ReservationRecord
from app.web.auth import allow_recording, scope_of
from app.web.graphql.context import GraphQLContext
from app.web.graphql.errors import arguments, bad_input, checked_sku, permitted, signed_in
from app.web.graphql.reasons import reason_for
from app.web.graphql.types import (
    Inventory,
    InventoryOperationResult,
    Location,
    NewLocation,
    Reservation,
    Transaction,
    TransactionChange,
    TransactionInput,
    TransactionPatch,
    WarningThresholdUpdate,
)
from app.web.idempotent import EMPTY_KEY
from app.web.views import product_view, reservation_view, transaction_view

Ctx = Info[GraphQLContext, None]
O = TypeVar("O")

# The services' field names as the seed's arguments spell them.
SEED_ARGUMENTS = {"sku": "skuId", "order_ref": "orderId", "ttl_seconds": "ttlSeconds", "unit_price": "unitPrice",
                  "note": "reason", "quantity": "quantity", "low_stock_threshold": "warningThreshold"}  # fmt: skip
CHECK_NOW = timedelta(minutes=5)  # how far from now updateCheckTime's `at` may be (clocks differ)
KEY_DOC = "Runs at most once per key (or the Idempotency-Key header): a repeat gets the first answer"


@immutable
class Keyed(Generic[O]):
    """A keyed mutation's outcome (this request's, or replayed: the first's), or its refusal."""

    outcome: O | Refused
    replayed: bool


async def keyed(
    info: Ctx, operation: str, fields: dict[str, Any], raw_key: str | None, kind: type[O],
    run: Callable[[Key | None], Awaitable[O]], names: Mapping[str, str] = SEED_ARGUMENTS,
) -> Keyed[O]:  # fmt: skip
    """`run` at most once per idempotency key: the argument, else the request's header (one keyed
    mutation per request). The operation's name is part of what the key fingerprints. A key kept
    by REST before keys kept outcomes cannot be answered here: an error, for every mutation.
    `names` are the arguments a field error of `run` is named by."""
    context = info.context
    with arguments(names):
        raw = raw_key if raw_key is not None else context.header_key
        if raw is not None and not raw.strip():  # taken as no key, a retry would do it twice
            raise InvalidInput([FieldError("idempotency_key", EMPTY_KEY)])
        key = idempotency.key_for(raw, {"graphql": operation, **fields}, scope_of(signed_in(context)))
        answer = await idempotency.once(context.services.db, key, kind, run)
    if isinstance(answer.outcome, EarlierAnswer):
        raise _earlier(answer.outcome)
    return Keyed(answer.outcome, answer.replayed)


async def _refused(
    info: Ctx, sku: str, refusal: Conflict | NotFound | Refused, replayed: bool = False
) -> InventoryOperationResult:
    return InventoryOperationResult(success=False, message=refusal.detail, retries_used=0,
                                    sku=sku, replayed=replayed)  # fmt: skip


def _earlier(outcome: EarlierAnswer) -> GraphQLError:
    return GraphQLError("This idempotency key was used by a REST request before keys kept outcomes",
                        extensions={"code": "BAD_USER_INPUT", "status": outcome.status_code})  # fmt: skip


def _recorded(change: Change, dry_run: bool, replayed: bool) -> TransactionChange:
    return TransactionChange(
        dry_run=dry_run, transaction=Transaction.of(transaction_view(change.row)) if change.row else None,
        before=Inventory.of(product_view(change.product.before)),
        after=Inventory.of(product_view(change.product.after)), replayed=replayed,
    )  # fmt: skip


def _conflict(refusal: Conflict | Refused) -> GraphQLError:
    return GraphQLError(refusal.detail, extensions={**refusal.extra, "code": "CONFLICT"})  # the error's code wins


@strawberry.type
class Mutation:
    # Every field is nullable: a request of several mutations runs each in turn, and one refused (an
    # error, its field null) must not null the whole `data` and hide those already made before it.

    # --- seed 001 --------------------------------------------------------------------------------

    @strawberry.mutation(description="Hold stock for an order (a clerk). " + KEY_DOC)
    async def reserve_stock(
        self, info: Ctx, sku_id: str, quantity: int, order_id: str, ttl_seconds: int | None = None,
        idempotency_key: str | None = None,
        location: Annotated[str | None, strawberry.argument(
            description="Hold the stock at this location (else against the product's total)")] = None,
    ) -> InventoryOperationResult | None:  # fmt: skip
        me = permitted(info.context, Role.CLERK, "Reserving stock")
        raw: dict[str, Any] = {"sku": sku_id, "quantity": quantity, "order_ref": order_id}
        if ttl_seconds is not None:
            raw["ttl_seconds"] = ttl_seconds
        if location is not None:
            raw["location"] = location
        with arguments(SEED_ARGUMENTS):
            wanted = parse_reservation(raw)
        reservations = info.context.services.reservations
        try:
            answer = await keyed(info, "reserveStock", raw, idempotency_key, Held,
                                 lambda key: reservations.reserve(wanted, key, within=me.location))  # fmt: skip
        except (Conflict, NotFound) as refusal:
            return await _refused(info, wanted.sku, refusal)
        outcome = answer.outcome
        if isinstance(outcome, Refused):
            return await _refused(info, wanted.sku, outcome, answer.replayed)
        held = outcome.reservation
        message = (f"Reserved {held.quantity} of {held.sku} for order {held.order_ref}" if outcome.created
                   else f"Order {held.order_ref} already holds {held.quantity} of {held.sku}")  # fmt: skip
        return InventoryOperationResult(
            success=True, message=message, retries_used=0, sku=held.sku,
            reservation=Reservation.of(reservation_view(held)), replayed=answer.replayed,
        )  # fmt: skip

    @strawberry.mutation(
        description="Sell what an order holds (a clerk), at `unitPrice` or else the product's sell price. " + KEY_DOC
    )
    async def confirm_reserve(
        self, info: Ctx, sku_id: str, quantity: int, order_id: str, unit_price: Decimal | None = None,
        idempotency_key: str | None = None,
    ) -> InventoryOperationResult | None:  # fmt: skip
        me = permitted(info.context, Role.CLERK, "Confirming a reservation")
        sku = checked_sku(sku_id)
        services = info.context.services
        try:
            held = await _held(info, sku, quantity, order_id)
            price = unit_price
            if price is None:
                price = (await services.products.get(sku)).sell_price
            if price is None:
                raise bad_input([("unitPrice", f"is required: product {sku} has no sell_price to default to")])
            with arguments(SEED_ARGUMENTS):
                price = parse_confirm({"unit_price": str(price)})
            fields = {"sku": sku, "quantity": quantity, "order_ref": order_id, "unit_price": price}
            with arguments():  # a hold where the caller may not record: FORBIDDEN
                answer = await keyed(info, "confirmReserve", fields, idempotency_key, Confirmed,
                                     lambda key: services.reservations.confirm(held.id, price, key,
                                                                               within=me.location))  # fmt: skip
        except (Conflict, NotFound) as refusal:
            return await _refused(info, sku, refusal)
        outcome = answer.outcome
        if isinstance(outcome, Refused):
            return await _refused(info, sku, outcome, answer.replayed)
        return InventoryOperationResult(
            success=True, message=_confirmed_message(outcome, answer.replayed), retries_used=0, sku=sku,
            reservation=Reservation.of(reservation_view(outcome.reservation)),
            transaction=Transaction.of(transaction_view(outcome.sale)) if outcome.sale else None,
            transactions=[Transaction.of(transaction_view(sale)) for sale in outcome.sales],
            replayed=answer.replayed,
        )  # fmt: skip

    @strawberry.mutation(description="Release what an order holds (a clerk). " + KEY_DOC)
    async def cancel_reserve(
        self, info: Ctx, sku_id: str, quantity: int, order_id: str, idempotency_key: str | None = None
    ) -> InventoryOperationResult | None:
        me = permitted(info.context, Role.CLERK, "Cancelling a reservation")
        sku = checked_sku(sku_id)
        reservations = info.context.services.reservations
        try:
            held = await _held(info, sku, quantity, order_id)
            fields = {"sku": sku, "quantity": quantity, "order_ref": order_id}
            answer = await keyed(info, "cancelReserve", fields, idempotency_key, ReservationRecord,
                                 lambda key: reservations.cancel(held.id, key, within=me.location))  # fmt: skip
        except (Conflict, NotFound) as refusal:
            return await _refused(info, sku, refusal)
        outcome = answer.outcome
        if isinstance(outcome, Refused):
            return await _refused(info, sku, outcome, answer.replayed)
        return InventoryOperationResult(
            success=True, message=_cancelled_message(held, outcome, answer.replayed), retries_used=0, sku=sku,
            reservation=Reservation.of(reservation_view(outcome)), replayed=answer.replayed,
        )  # fmt: skip

    @strawberry.mutation(
        description="Take stock off (an ADJUST: a manager); the reason is kept as its note. " + KEY_DOC
    )
    async def decrease_stock(
        self, info: Ctx, sku_id: str, quantity: int, reason: str, idempotency_key: str | None = None
    ) -> InventoryOperationResult | None:
        return await _adjust(info, "decreaseStock", sku_id, -_positive(quantity), reason, None, idempotency_key)

    @strawberry.mutation(description="Add stock (an ADJUST: a manager); the reason is kept as its note. " + KEY_DOC)
    async def increase_stock(
        self, info: Ctx, sku_id: str, quantity: int, reason: str, unit_price: Decimal | None = None,
        idempotency_key: str | None = None,
    ) -> InventoryOperationResult | None:  # fmt: skip
        return await _adjust(info, "increaseStock", sku_id, _positive(quantity), reason, unit_price, idempotency_key)

    @strawberry.mutation(description="Set products' low-stock thresholds (a manager), one answer per update")
    async def batch_update_warning_threshold(
        self, info: Ctx, updates: list[WarningThresholdUpdate]
    ) -> list[InventoryOperationResult] | None:
        permitted(info.context, Role.MANAGER, "Changing a product's settings")
        if len(updates) > 1000:
            raise bad_input([("updates", "must hold at most 1000 updates")])
        products = info.context.services.products
        # Every update is read before any is made: a bad one refuses the batch and changes nothing.
        errors, skus = FieldErrors(), []
        for i, update in enumerate(updates):
            skus.append(checked_sku(update.sku_id, f"updates[{i}].skuId"))
            stock_threshold(errors, f"updates[{i}].warningThreshold", update.warning_threshold)
        if errors.errors:
            raise bad_input([(e.field, e.message) for e in errors.errors])
        answers: list[InventoryOperationResult] = []
        for sku, update in zip(skus, updates, strict=True):
            try:
                with arguments({"low_stock_threshold": "updates.warningThreshold"}):
                    changed = await products.update(sku, {"low_stock_threshold": update.warning_threshold})
            except (Conflict, NotFound) as refusal:
                answers.append(await _refused(info, sku, refusal))
                continue
            answers.append(InventoryOperationResult(
                success=True, message=f"{sku}: warning threshold {changed.low_stock_threshold}", retries_used=0,
                known=Inventory.of(product_view(changed))))  # fmt: skip
        return answers

    @strawberry.mutation(
        description="Mark products as checked now (a manager): Stockroom records a COUNT of the quantity the books "
        "hold, read under the product's lock, which changes no figure but lastCheckTime. " + KEY_DOC
    )
    async def update_check_time(
        self, info: Ctx, skus: list[str], at: datetime | None = None, idempotency_key: str | None = None
    ) -> list[InventoryOperationResult] | None:
        me = permitted(info.context, Role.MANAGER, "Recording a count")
        ledger = info.context.services.ledger
        if at is not None and abs((at if at.tzinfo else at.replace(tzinfo=UTC)) - ledger.clock()) > CHECK_NOW:
            raise bad_input([("at", "can only be now: a past check is a COUNT with its quantity (recordTransaction)")])
        if len(skus) > 1000:
            raise bad_input([("skus", "must name at most 1000 SKUs")])
        answers: list[InventoryOperationResult] = []
        base_key = idempotency_key or info.context.header_key  # one key per product: "<key>/<sku>"
        for sku in [checked_sku(s, "skus") for s in skus]:
            try:
                answer = await keyed(info, "updateCheckTime", {"sku": sku}, f"{base_key}/{sku}" if base_key else None,
                                     Change, partial(ledger.count_as_is, sku, within=me.location))  # fmt: skip
            except (Conflict, NotFound) as refusal:
                answers.append(await _refused(info, sku, refusal))
                continue
            outcome = answer.outcome
            if isinstance(outcome, Refused):
                answers.append(await _refused(info, sku, outcome, answer.replayed))
                continue
            answers.append(InventoryOperationResult(
                success=True, message=f"{sku}: counted {outcome.product.after.position.stock} as recorded",
                retries_used=0, known=Inventory.of(product_view(outcome.product.after)), replayed=answer.replayed,
                transaction=Transaction.of(transaction_view(outcome.row)) if outcome.row else None))  # fmt: skip
        return answers

    # --- Stockroom's own -----------------------------------------------------------------------

    @strawberry.mutation(
        description="Record a transaction (a clerk: BUY and SELL dated today; else a manager). With dryRun: "
        "what it would do, saving nothing. " + KEY_DOC
    )
    async def record_transaction(
        self, info: Ctx, input: TransactionInput, dry_run: bool = False, idempotency_key: str | None = None
    ) -> TransactionChange | None:
        me = signed_in(info.context)
        ledger = info.context.services.ledger
        raw = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in vars(input).items() if v is not None}
        with arguments(_input_names("input")):
            entered = ledger.parse(raw)
            allow_recording(me, ledger, entered)
            await ledger.check_locations(entered)  # named here, as the input's fields (known codes cost no read)
        try:
            if dry_run:
                return _recorded(await ledger.record(entered, dry_run=True, within=me.location), True, False)
            answer = await keyed(info, "recordTransaction", raw, idempotency_key, Change,
                                 lambda key: ledger.record(entered, key=key, within=me.location),
                                 names=_input_names("input"))  # fmt: skip
        except Conflict as refusal:
            raise _conflict(refusal) from None
        except NotFound as missing:
            raise bad_input([("input.sku", missing.detail)]) from None
        except InvalidInput as invalid:  # a dry run's TRANSFER to where it is
            raise _invalid_input(invalid) from None
        outcome = answer.outcome
        if isinstance(outcome, Refused):  # kept with the key: a repeat is refused as the first answer was
            kept = outcome.error()
            raise _invalid_input(kept) if isinstance(kept, InvalidInput) else _conflict(outcome)
        return _recorded(outcome, False, answer.replayed)

    @strawberry.mutation(description="Change a transaction (a manager); with dryRun, what it would do. " + KEY_DOC)
    async def edit_transaction(
        self, info: Ctx, id: int, patch: TransactionPatch, dry_run: bool = False, idempotency_key: str | None = None
    ) -> TransactionChange | None:
        me = permitted(info.context, Role.MANAGER, "Editing a transaction")
        ledger = info.context.services.ledger
        changes = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in vars(patch).items() if v is not None}

        async def run(key: Key | None) -> Change:
            return await ledger.edit(id, changes, actor=me.username, dry_run=dry_run, key=key, within=me.location)

        with arguments(_input_names("patch")):
            return await _changed(info, "editTransaction", {"id": id, **changes}, idempotency_key, dry_run, run)

    @strawberry.mutation(description="Delete a transaction (a manager); with dryRun, what it would do. " + KEY_DOC)
    async def delete_transaction(
        self, info: Ctx, id: int, dry_run: bool = False, idempotency_key: str | None = None
    ) -> TransactionChange | None:
        me = permitted(info.context, Role.MANAGER, "Deleting a transaction")
        ledger = info.context.services.ledger

        async def run(key: Key | None) -> Change:
            return await ledger.delete(id, actor=me.username, dry_run=dry_run, key=key, within=me.location)

        with arguments():  # a row at a location the caller may not change: FORBIDDEN
            return await _changed(info, "deleteTransaction", {"id": id}, idempotency_key, dry_run, run)

    @strawberry.mutation(description="Create a stock location (a manager). " + KEY_DOC)
    async def create_location(
        self, info: Ctx, input: NewLocation, idempotency_key: str | None = None
    ) -> Location | None:
        permitted(info.context, Role.MANAGER, "Creating a location")
        raw = {k: v for k, v in vars(input).items() if v is not None}
        names = {f: f"input.{f}" for f in ("code", "name", "kind")}
        locations = info.context.services.ledger.locations
        try:  # keyed() names a field error by `names`
            answer = await keyed(info, "createLocation", raw, idempotency_key, LocationRecord,
                                 lambda key: locations.create(raw, key), names=names)  # fmt: skip
        except Conflict as taken:
            raise _conflict(taken) from None
        if isinstance(answer.outcome, Refused):
            raise _conflict(answer.outcome)
        return Location.of(answer.outcome)

    @strawberry.mutation(description="Rename a stock location or change its kind (a manager); its code stays")
    async def update_location(
        self, info: Ctx, code: str, name: str | None = None, kind: str | None = None
    ) -> Location | None:
        permitted(info.context, Role.MANAGER, "Changing a location")
        raw = {k: v for k, v in (("name", name), ("kind", kind)) if v is not None}
        with arguments():
            try:
                changed = await info.context.services.ledger.locations.update(code, raw)
            except NotFound as missing:
                raise bad_input([("code", missing.detail)]) from None
        return Location.of(changed)


async def _changed(
    info: Ctx, operation: str, fields: dict[str, Any], raw_key: str | None, dry_run: bool,
    run: Callable[[Key | None], Awaitable[Change]],
) -> TransactionChange:  # fmt: skip
    """An edit or delete: a dry run as it is (nothing to key), a real one through the idempotency key."""
    try:
        if dry_run:
            return _recorded(await run(None), True, False)
        answer = await keyed(info, operation, fields, raw_key, Change, run)
    except Conflict as refusal:
        raise _conflict(refusal) from None
    except NotFound as missing:  # the transaction, or the product a patch moves it to
        raise bad_input([("patch.sku" if missing.extra.get("field") == "sku" else "id", missing.detail)]) from None
    outcome = answer.outcome
    if isinstance(outcome, Refused):
        raise _conflict(outcome)
    return _recorded(outcome, False, answer.replayed)


def _invalid_input(invalid: InvalidInput) -> GraphQLError:
    names = _input_names("input")
    return bad_input([(names.get(e.field, e.field), e.message) for e in invalid.errors])


def _input_names(argument: str) -> dict[str, str]:
    """The fields of a transaction input object, as `input.unitPrice` names them."""
    fields = ("sku", "type", "quantity", "unit_price", "at", "reason", "note", "location", "to_location")
    return {f: f"{argument}.{_CAMEL.get(f, f)}" for f in fields}


_CAMEL = {"unit_price": "unitPrice", "to_location": "toLocation"}


def _positive(quantity: int) -> int:
    if quantity < 1:
        raise bad_input([("quantity", "must be at least 1")])
    return quantity


def _confirmed_message(outcome: Confirmed, replayed: bool) -> str:
    """What was booked: the sale's price, not the one asked for. A reservation confirmed before this
    request (and not by this key's first run) is returned unchanged, and the message says so."""
    held = outcome.reservation
    price = outcome.sale.entry.unit_price if outcome.sale else held.unit_price
    sold = f"sold {held.quantity} of {held.sku} at {price}"
    if outcome.earlier and not replayed:
        return f"Order {held.order_ref} was already confirmed: {sold}; nothing was sold now"
    return f"Confirmed order {held.order_ref}: {sold}"


def _cancelled_message(before: ReservationRecord, outcome: ReservationRecord, replayed: bool) -> str:
    """Cancelling a reservation that holds nothing any more changes nothing: the message says why."""
    what = f"order {outcome.order_ref}'s reservation of {outcome.quantity} {outcome.sku}"
    if outcome.status is Status.EXPIRED:
        return f"Nothing to cancel: {what} had already expired and held nothing"
    if before.status is Status.CANCELLED and not replayed:
        return f"Nothing to cancel: {what} was already cancelled"
    return f"Cancelled {what}"


async def _held(info: Ctx, sku: str, quantity: int, order_id: str) -> ReservationRecord:
    """The reservation `order_id` holds on `sku`, of `quantity` (a Conflict or NotFound otherwise)."""
    held = await info.context.services.reservations.for_order(sku, order_id)
    if held is None:
        raise NotFound(f"Order {order_id!r} holds no reservation of {sku}", {"sku": sku, "order_ref": order_id})
    if held.quantity != quantity:
        raise Conflict(f"Order {order_id!r} holds {held.quantity} of {sku}, not {quantity}",
                       {"quantity": held.quantity, "requested": quantity})  # fmt: skip
    return held


async def _adjust(
    info: Ctx, operation: str, sku_id: str, quantity: int, reason: str, unit_price: Decimal | None,
    raw_key: str | None,
) -> InventoryOperationResult:  # fmt: skip
    """An ADJUST with the seed's free-text reason as its note, under REST's rule for recording it."""
    me = signed_in(info.context)
    ledger = info.context.services.ledger
    raw: dict[str, Any] = {"sku": sku_id, "type": "ADJUST", "quantity": quantity,
                           "reason": reason_for(reason).value, "note": reason or None}  # fmt: skip
    if unit_price is not None:
        raw["unit_price"] = str(unit_price)
    with arguments(SEED_ARGUMENTS):
        entered = ledger.parse(raw)
        allow_recording(me, ledger, entered)
    try:
        answer = await keyed(info, operation, raw, raw_key, Change,
                             lambda key: ledger.record(entered, key=key, within=me.location))  # fmt: skip
    except (Conflict, NotFound) as refusal:
        return await _refused(info, entered.sku, refusal)
    outcome = answer.outcome
    if isinstance(outcome, Refused):
        return await _refused(info, entered.sku, outcome, answer.replayed)
    assert outcome.row is not None
    moved = "Added" if quantity > 0 else "Took off"
    return InventoryOperationResult(
        success=True, message=f"{moved} {abs(quantity)} of {entered.sku} ({entered.reason}: {reason})",
        retries_used=0, known=Inventory.of(product_view(outcome.product.after)),
        transaction=Transaction.of(transaction_view(outcome.row)), replayed=answer.replayed,
    )  # fmt: skip
