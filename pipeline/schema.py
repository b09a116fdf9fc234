"""The canonical tables every data source maps to, and the rules a row must pass.

Every source (the synthetic shop, a shop's own files, Online Retail) produces these
tables; everything downstream reads only these. Timestamps are naive UTC, ids are
strings, money is in the shop's currency.

Only ``orders`` is required. A missing optional table, or a missing optional column,
switches off the features that need it (the features stage logs which).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DType = Literal["string", "datetime", "float", "int", "bool"]


@dataclass(frozen=True)
class Column:
    """One column of a canonical table.

    ``required`` columns must be present; ``nullable`` columns may hold missing values.
    ``min``/``max`` bound numeric values (inclusive); ``allowed`` lists the values a
    categorical column may take. ``key_like`` text is a key written by people: read
    stripped and lower-cased (``Discount`` is the play ``discount``).
    """

    name: str
    dtype: DType
    required: bool = False
    nullable: bool = True
    min: float | None = None
    max: float | None = None
    allowed: tuple[str, ...] | None = None
    key_like: bool = False


@dataclass(frozen=True)
class Table:
    """A canonical table: its key, the customer reference, and its columns."""

    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    # (earlier, later): rows where ``later < earlier`` are invalid.
    ordered_pairs: tuple[tuple[str, str], ...] = field(default=())

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name!r} has no column {name!r}")


LOYALTY_TYPES = (
    "premium",
    "inertia",
    "convenience",
    "monopoly",
    "incentive",
    "price",
    "latent",
)

SURVEY_REASONS = (
    "brand_value",
    "no_alternative",
    "habit",
    "convenience",
    "lowest_price",
    "promotions",
    "held_back",
)

COMPLAINT_CATEGORIES = ("delivery", "quality", "service", "billing", "other")
ORDER_CHANNELS = ("web", "app", "phone", "store")

CUSTOMERS = Table(
    name="customers",
    key=("customer_id",),
    columns=(
        Column("customer_id", "string", required=True, nullable=False),
        Column("signup_at", "datetime"),
        # Mutable attributes (region, membership_tier): as the export shows them today.
        # They are usable at a cutoff only if they were observed before it
        # (attributes_observed_at), or a tier exported today would leak into every past
        # snapshot.
        Column("region", "string"),
        Column("acquisition_channel", "string"),
        Column("membership_tier", "string"),
        # Who referred this customer (a customer_id), when known: referrals made before
        # a cutoff are the "advocate" stage of the relationship. Known from signup on.
        Column("referred_by", "string"),
        # When membership_tier and region were observed (the export date for a plain
        # snapshot, the signup for attributes fixed at signup). Null: never usable.
        Column("attributes_observed_at", "datetime"),
    ),
)

# Customer columns whose value is a fact as of ``attributes_observed_at``, not of signup.
MUTABLE_CUSTOMER_ATTRIBUTES = ("membership_tier", "region")

ORDERS = Table(
    name="orders",
    key=("order_id",),
    columns=(
        Column("order_id", "string", required=True, nullable=False),
        Column("customer_id", "string", required=True, nullable=False),
        Column("ordered_at", "datetime", required=True, nullable=False),
        Column("amount", "float", required=True, nullable=False, min=0.0),
        Column("discount_amount", "float", min=0.0),
        Column("promotion_day", "bool"),
        Column("channel", "string"),
        Column("quantity", "float", min=0.0),
        Column("distinct_products", "float", min=0.0),
        Column("promised_delivery_at", "datetime"),
        Column("delivered_at", "datetime"),
        Column("rating", "float", min=1.0, max=5.0),
        Column("rated_at", "datetime"),
        Column("session_id", "string"),
        Column("points_earned", "float", min=0.0),
        Column("points_redeemed", "float", min=0.0),
    ),
    ordered_pairs=(("ordered_at", "delivered_at"), ("ordered_at", "rated_at")),
)

ORDER_LINES = Table(
    name="order_lines",
    key=("order_id", "line_no"),
    columns=(
        Column("order_id", "string", required=True, nullable=False),
        Column("line_no", "int", required=True, nullable=False, min=0.0),
        Column("customer_id", "string", required=True, nullable=False),
        Column("ordered_at", "datetime", required=True, nullable=False),
        Column("product_id", "string", required=True, nullable=False),
        Column("quantity", "float", required=True, nullable=False, min=0.0),
        Column("unit_price", "float", required=True, nullable=False, min=0.0),
    ),
)

RETURNS = Table(
    name="returns",
    key=("return_id",),
    columns=(
        Column("return_id", "string", required=True, nullable=False),
        Column("customer_id", "string", required=True, nullable=False),
        Column("returned_at", "datetime", required=True, nullable=False),
        Column("amount", "float", required=True, nullable=False, min=0.0),
        Column("order_id", "string"),
        Column("quantity", "float", min=0.0),
    ),
)

SESSIONS = Table(
    name="sessions",
    key=("session_id",),
    columns=(
        Column("session_id", "string", required=True, nullable=False),
        Column("customer_id", "string", required=True, nullable=False),
        Column("started_at", "datetime", required=True, nullable=False),
        Column("ended_at", "datetime"),
        Column("page_views", "float", min=0.0),
        Column("added_to_cart", "bool"),
        Column("channel", "string"),
    ),
    ordered_pairs=(("started_at", "ended_at"),),
)

COMPLAINTS = Table(
    name="complaints",
    key=("complaint_id",),
    columns=(
        Column("complaint_id", "string", required=True, nullable=False),
        Column("customer_id", "string", required=True, nullable=False),
        Column("opened_at", "datetime", required=True, nullable=False),
        Column("category", "string", required=True, nullable=False, allowed=COMPLAINT_CATEGORIES),
        Column("order_id", "string"),
        Column("channel", "string"),
        Column("resolved_at", "datetime"),
        Column("escalated", "bool"),
        Column("satisfaction_after", "float", min=1.0, max=5.0),
        # Free text: read for validation only, never a feature, never sent to MLflow.
        Column("text", "string"),
    ),
    ordered_pairs=(("opened_at", "resolved_at"),),
)

SURVEYS = Table(
    name="surveys",
    key=("customer_id", "surveyed_at"),
    columns=(
        Column("customer_id", "string", required=True, nullable=False),
        Column("surveyed_at", "datetime", required=True, nullable=False),
        Column("attachment", "float", required=True, nullable=False, min=1.0, max=7.0),
        Column("recommend", "float", min=0.0, max=10.0),
        Column("main_reason", "string", allowed=SURVEY_REASONS),
    ),
)

# A retention campaign's contact history: who was chosen, and whether they were held
# out as control or got a play (a key of ``pipeline.loyalty.PLAYS``). The randomised
# control arm is what lets the uplift stage learn whom a contact keeps.
CONTACT_ARMS = ("treatment", "control")
CONTACTS = Table(
    name="contacts",
    key=("customer_id", "campaign"),
    columns=(
        Column("customer_id", "string", required=True, nullable=False),
        Column("campaign", "string", required=True, nullable=False),
        Column("contacted_at", "datetime", required=True, nullable=False),
        Column("arm", "string", required=True, nullable=False, allowed=CONTACT_ARMS),
        # the play the treatment arm got; empty for the control arm
        Column("play", "string", key_like=True),
        # what the contact and its offer cost (money), 0 for the control arm
        Column("cost", "float", min=0.0),
    ),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (CUSTOMERS, ORDERS, ORDER_LINES, RETURNS, SESSIONS, COMPLAINTS, SURVEYS, CONTACTS)
}
# Each event table's own time: what "before the cutoff", "after the export" and
# ``score.as_of`` are measured on.
EVENT_TIME: dict[str, str] = {
    "orders": "ordered_at",
    "order_lines": "ordered_at",
    "returns": "returned_at",
    "sessions": "started_at",
    "complaints": "opened_at",
    "surveys": "surveyed_at",
    "contacts": "contacted_at",
}
REQUIRED_TABLES = ("orders",)
OPTIONAL_TABLES = tuple(name for name in TABLES if name not in REQUIRED_TABLES)
