"""The synthetic world the fraud generator draws from: cities, customers, cards, merchants and breaches.

Everything here is decided once per (rows, days, seed, start date), before any transaction is drawn, so each
day can then be generated on its own and still agree with every other day: that is what makes day-at-a-time
generation write exactly the rows of a full run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lake.contracts import get_contract
from lake.generate_text import card_numbers, format_ids, pick_words

DAY_US = 86_400_000_000
"""Microseconds in a day."""
FRAUD_RATE = 0.01
"""Expected share of transactions that are fraud."""
TRANSACTIONS_PER_CARD = 40
"""Average transactions per card over the whole run, so per-card history exists whatever the size."""
CARDS_PER_CUSTOMER = 1.3
TRANSACTIONS_PER_MERCHANT = 500
USUAL_MERCHANTS = 8
"""Merchants a card returns to (its own shops); slot 0 is the most frequent."""
VICTIM_SHARE = 0.15
"""Share of fraud incidents that follow a merchant breach (skimmed cards used later)."""
BREACH_SKIM_SHARE = 0.9
"""Share of a breached shop's regular customers whose cards are skimmed."""
FAR_KM = 1500.0
"""A city this far from home (or in another country) is 'far from home'."""

CATEGORIES = (
    "grocery",
    "restaurant",
    "fuel",
    "travel",
    "electronics",
    "fashion",
    "entertainment",
    "health",
    "digital_goods",
    "gambling",
)
CATEGORY = {name: code for code, name in enumerate(CATEGORIES)}
USUAL_CATEGORY_WEIGHTS = np.array([0.25, 0.2, 0.12, 0.03, 0.04, 0.1, 0.08, 0.08, 0.07, 0.03])
"""How often each category is among a card's usual merchants (or a legitimate one-off purchase)."""
BREACHABLE_CATEGORIES = [CATEGORY["grocery"], CATEGORY["restaurant"], CATEGORY["fuel"]]
CATEGORY_AMOUNT_FACTOR = np.array([1.0, 0.8, 1.3, 4.0, 3.0, 1.8, 0.9, 1.2, 0.4, 1.5])
ONLINE_SHARE = np.array([0.1, 0.05, 0.0, 0.7, 0.5, 0.4, 0.4, 0.1, 1.0, 0.9])
"""Share of a category's legitimate purchases made online."""


class City(NamedTuple):
    """A place where customers live (``weight`` > 0) or only merchants are (fraud destinations)."""

    name: str
    country: str
    currency: str
    lat: float
    lon: float
    weight: float


CITIES = (
    City("Paris", "FR", "EUR", 48.8566, 2.3522, 9),
    City("Lyon", "FR", "EUR", 45.7640, 4.8357, 3),
    City("Berlin", "DE", "EUR", 52.5200, 13.4050, 8),
    City("Munich", "DE", "EUR", 48.1351, 11.5820, 4),
    City("Madrid", "ES", "EUR", 40.4168, -3.7038, 6),
    City("Barcelona", "ES", "EUR", 41.3874, 2.1686, 4),
    City("Rome", "IT", "EUR", 41.9028, 12.4964, 5),
    City("Milan", "IT", "EUR", 45.4642, 9.1900, 4),
    City("Amsterdam", "NL", "EUR", 52.3676, 4.9041, 3),
    City("Vienna", "AT", "EUR", 48.2082, 16.3738, 2),
    City("Lisbon", "PT", "EUR", 38.7223, -9.1393, 2),
    City("Dublin", "IE", "EUR", 53.3498, -6.2603, 2),
    City("London", "GB", "GBP", 51.5072, -0.1276, 9),
    City("Manchester", "GB", "GBP", 53.4808, -2.2426, 3),
    City("Edinburgh", "GB", "GBP", 55.9533, -3.1883, 2),
    City("New York", "US", "USD", 40.7128, -74.0060, 9),
    City("Los Angeles", "US", "USD", 34.0522, -118.2437, 6),
    City("Chicago", "US", "USD", 41.8781, -87.6298, 5),
    City("Houston", "US", "USD", 29.7604, -95.3698, 4),
    City("Miami", "US", "USD", 25.7617, -80.1918, 3),
    City("Seattle", "US", "USD", 47.6062, -122.3321, 3),
    City("Boston", "US", "USD", 42.3601, -71.0589, 3),
    City("Lagos", "NG", "USD", 6.5244, 3.3792, 0),
    City("Bangkok", "TH", "USD", 13.7563, 100.5018, 0),
    City("Sao Paulo", "BR", "USD", -23.5505, -46.6333, 0),
    City("Manila", "PH", "USD", 14.5995, 120.9842, 0),
    City("Bucharest", "RO", "EUR", 44.4268, 26.1025, 0),
)
CITY_LAT = np.array([city.lat for city in CITIES])
CITY_LON = np.array([city.lon for city in CITIES])
CITY_WEIGHT = np.array([city.weight for city in CITIES], dtype=np.float64)

FIRST_NAMES = (
    "Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Mia", "Leon", "Sofia", "Hugo", "Chloe", "Mateo", "Lea",
    "Elias", "Alice", "Jack", "Giulia", "Lorenzo", "Ines", "Tom", "Nora", "Adam", "Clara", "Luca", "Hannah",
    "Oscar", "Maya", "Felix", "Zoe", "Daniel", "Sara", "Paul", "Julia", "Marco", "Anna", "David", "Laura", "Ethan",
    "Grace", "Samuel",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Muller", "Garcia", "Rossi", "Martin", "Johnson", "Schmidt", "Fernandez", "Bianchi", "Bernard",
    "Brown", "Schneider", "Lopez", "Romano", "Dubois", "Williams", "Fischer", "Martinez", "Colombo", "Moreau",
    "Jones", "Weber", "Sanchez", "Ricci", "Laurent", "Miller", "Meyer", "Perez", "Greco", "Lefebvre", "Davis",
    "Wagner", "Gomez", "Costa", "Fontaine", "Wilson", "Becker", "Silva", "Murphy", "Kelly",
)  # fmt: skip
EMAIL_DOMAINS = ("mail.example", "post.example", "inbox.example", "web.example")
MERCHANT_WORDS = ("Blue", "Golden", "City", "Corner", "Royal", "Green", "Central", "Star", "North", "Old Town")
CATEGORY_NOUNS = (
    "Market", "Bistro", "Fuel", "Travel", "Electronics", "Boutique", "Cinema", "Pharmacy", "Apps", "Casino",
)  # fmt: skip
CARD_TYPES = ("credit", "debit", "prepaid")
CARD_TYPE_WEIGHTS = np.array([0.45, 0.5, 0.05])
CARD_BINS = np.array([453201, 535310, 462263])
"""Issuer prefix per card type."""


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in kilometres between arrays of points given in degrees."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat, dlon = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 6371.0 * 2 * np.arcsin(np.sqrt(a))


def contract_table(table: str, columns: dict[str, pa.Array | np.ndarray]) -> pa.Table:
    """An Arrow table with exactly the contract's schema of ``raw.<table>`` (NaN floats become nulls)."""
    schema = get_contract(table).arrow_schema()
    arrays = []
    for field in schema:
        values = columns[field.name]
        if isinstance(values, pa.Array):
            arrays.append(values.cast(field.type))
        else:
            values = np.asarray(values)
            missing = np.isnan(values) if values.dtype.kind == "f" else None
            arrays.append(pa.array(values, type=field.type, mask=missing))
    return pa.Table.from_arrays(arrays, schema=schema)


@dataclass(frozen=True)
class Victims:
    """Cards skimmed at a breached merchant: a legitimate visit, then fraud some days later."""

    card: np.ndarray
    merchant: np.ndarray
    visit_day: np.ndarray
    visit_offset_us: np.ndarray
    fraud_day: np.ndarray


class World:
    """Customers, cards, merchants and the breach plan for one (rows, days, seed, start date).

    Arrays are indexed by position: card ``i`` is ``cards[i]``; merchants are sorted by (city, category) so the
    merchants of one city and category are a contiguous range.
    """

    def __init__(self, rows: int, days: int, seed: int, start_date: date) -> None:
        self.rows, self.days, self.seed, self.start_date = rows, days, seed, start_date
        self.origin_us = int(datetime(start_date.year, start_date.month, start_date.day, tzinfo=UTC).timestamp()) * (
            1_000_000
        )
        rng = self.rng("world")
        n_cards = max(50, rows // TRANSACTIONS_PER_CARD)
        n_customers = max(1, round(n_cards / CARDS_PER_CUSTOMER))
        self._draw_customers(rng, n_customers)
        self._draw_merchants(rng, max(len(CITIES) * len(CATEGORIES), rows // TRANSACTIONS_PER_MERCHANT))
        self._draw_cards(rng, n_cards)
        self.day_counts = self._split_rows_over_days()
        self.fraud_counts = self.rng("fraud-counts").binomial(self.day_counts, FRAUD_RATE)
        self.victims = self._draw_victims(rng)

    def rng(self, purpose: str, day: int = -1) -> np.random.Generator:
        """An independent, reproducible random stream for one purpose (and day)."""
        return np.random.default_rng([self.seed, *purpose.encode(), day + 1])

    def _draw_customers(self, rng: np.random.Generator, n: int) -> None:
        self.customer_city = rng.choice(len(CITIES), size=n, p=CITY_WEIGHT / CITY_WEIGHT.sum())
        self.home_lat = np.round(CITY_LAT[self.customer_city] + rng.normal(0, 0.05, n), 6)
        self.home_lon = np.round(CITY_LON[self.customer_city] + rng.normal(0, 0.05, n), 6)
        self.customer_created_us = self.origin_us - rng.integers(30 * DAY_US, 3650 * DAY_US, n)
        first = rng.integers(0, len(FIRST_NAMES), n)
        last = rng.integers(0, len(LAST_NAMES), n)
        self._customer_names = (first, last, rng.integers(0, len(EMAIL_DOMAINS), n))
        self._birth_year = rng.integers(1945, 2008, n)

    def _draw_merchants(self, rng: np.random.Generator, n: int) -> None:
        n_cities, n_categories = len(CITIES), len(CATEGORIES)
        every_pair = np.arange(n_cities * n_categories)
        extra = rng.integers(0, n_cities * n_categories, n - len(every_pair))
        pairs = np.sort(np.concatenate([every_pair, extra]))
        self.merchant_city, self.merchant_category = np.divmod(pairs, n_categories)
        self.merchant_lat = np.round(CITY_LAT[self.merchant_city] + rng.normal(0, 0.04, n), 6)
        self.merchant_lon = np.round(CITY_LON[self.merchant_city] + rng.normal(0, 0.04, n), 6)
        self._merchant_created_us = self.origin_us - rng.integers(30 * DAY_US, 7300 * DAY_US, n)
        self._merchant_word = rng.integers(0, len(MERCHANT_WORDS), n)
        counts = np.bincount(pairs, minlength=n_cities * n_categories)
        self._pair_start = np.concatenate([[0], np.cumsum(counts)[:-1]]).reshape(n_cities, n_categories)
        self._pair_count = counts.reshape(n_cities, n_categories)
        distance = haversine_km(CITY_LAT[:, None], CITY_LON[:, None], CITY_LAT[None, :], CITY_LON[None, :])
        countries = np.array([city.country for city in CITIES])
        far = (distance > FAR_KM) | (countries[:, None] != countries[None, :])
        self._far_count = far.sum(axis=1)
        self._far_cities = np.argsort(~far, axis=1, kind="stable")

    def _draw_cards(self, rng: np.random.Generator, n: int) -> None:
        n_customers = len(self.customer_city)
        extra_owners = rng.integers(0, n_customers, max(0, n - n_customers))
        self.card_customer = np.sort(np.concatenate([np.arange(min(n, n_customers)), extra_owners]))
        self.card_city = self.customer_city[self.card_customer]
        self.card_type = rng.choice(len(CARD_TYPES), size=n, p=CARD_TYPE_WEIGHTS)
        self.card_typical_cents = rng.lognormal(np.log(2500), 0.7, n)
        activity = rng.lognormal(0, 0.8, n)
        self.card_activity_cdf = np.cumsum(activity) / activity.sum()
        slots = rng.choice(len(CATEGORIES), size=(n, USUAL_MERCHANTS), p=USUAL_CATEGORY_WEIGHTS)
        self.card_usual = self.merchant_in(
            np.repeat(self.card_city[:, None], USUAL_MERCHANTS, 1), slots, rng.random(slots.shape)
        )
        self.card_used_categories = np.zeros((n, len(CATEGORIES)), dtype=bool)
        self.card_used_categories[np.arange(n)[:, None], self.merchant_category[self.card_usual]] = True
        created = self.customer_created_us[self.card_customer]
        self._card_issued_us = created + (rng.random(n) * (self.origin_us - created)).astype(np.int64)
        self._card_limit = np.where(self.card_type == 0, np.round(rng.lognormal(np.log(300_000), 0.6, n), -4), 0)
        self._card_accounts = (np.arange(n, dtype=np.int64) * 387_420_489 + rng.integers(0, 10**9)) % 10**9

    def merchant_in(self, city: np.ndarray, category: np.ndarray, u: np.ndarray) -> np.ndarray:
        """A merchant of each (city, category), the one at fraction ``u`` in [0, 1) of that pair's range."""
        count = self._pair_count[city, category]
        return self._pair_start[city, category] + (u * count).astype(np.int64)

    def far_city(self, city: np.ndarray, u: np.ndarray) -> np.ndarray:
        """A city far from each given city (another country or more than FAR_KM away), chosen by ``u``."""
        return self._far_cities[city, (u * self._far_count[city]).astype(np.int64)]

    def _split_rows_over_days(self) -> np.ndarray:
        """Transactions per day: weekly seasonality (busy Fridays and Saturdays, quiet Sundays), summing to rows."""
        weekday_weight = np.array([0.94, 0.96, 1.0, 1.03, 1.15, 1.2, 0.82])
        first = self.start_date.weekday()
        share = weekday_weight[(first + np.arange(self.days)) % 7]
        exact = self.rows * share / share.sum()
        counts = np.floor(exact).astype(np.int64)
        remainder_order = np.argsort(-(exact - counts), kind="stable")
        counts[remainder_order[: self.rows - counts.sum()]] += 1
        return counts

    def _draw_victims(self, rng: np.random.Generator) -> Victims:
        """Breached shops and the regular customers skimmed there during a two-day breach.

        Most regulars of a breached shop visit it during the breach and see fraud 2-10 days later, the
        "common point of purchase" investigators look for. Shops are breached until the victims make up about
        VICTIM_SHARE of the fraud incidents.
        """
        target = max(1, round(self.rows * FRAUD_RATE * VICTIM_SHARE / 1.5))
        card = np.repeat(np.arange(len(self.card_city)), USUAL_MERCHANTS)
        regular_pairs = np.unique(self.card_usual.ravel() * len(self.card_city) + card)
        regular_merchant, regular_card = np.divmod(regular_pairs, len(self.card_city))
        regulars = np.bincount(regular_merchant, minlength=len(self.merchant_city))
        skimmed = np.ceil(BREACH_SKIM_SHARE * regulars).astype(np.int64)
        shops = np.flatnonzero(np.isin(self.merchant_category, BREACHABLE_CATEGORIES) & (regulars >= 3))
        fits = skimmed[shops] <= target
        candidates = rng.permutation(shops[fits] if fits.any() else shops[np.argsort(skimmed[shops])[:1]])
        breached = candidates[: int(np.searchsorted(np.cumsum(skimmed[candidates]), target)) + 1]
        breach_day = np.zeros(len(self.merchant_city), dtype=np.int64)
        breach_day[breached] = rng.integers(0, max(1, self.days - 12), len(breached))

        in_breached = np.isin(regular_merchant, breached)
        merchant, card = regular_merchant[in_breached], regular_card[in_breached]
        shuffled = np.lexsort((rng.random(len(merchant)), merchant))
        merchant, card = merchant[shuffled], card[shuffled]
        rank = np.arange(len(merchant)) - np.searchsorted(merchant, merchant)
        chosen = rank < skimmed[merchant]
        merchant, card = merchant[chosen], card[chosen]
        n = len(merchant)
        visit_day = np.minimum(breach_day[merchant] + rng.integers(0, 2, n), self.days - 1)
        visit_offset_us = rng.integers(8 * 3600, 21 * 3600, n) * 1_000_000 + rng.integers(0, 1_000_000, n)
        return Victims(card, merchant, visit_day, visit_offset_us, visit_day + rng.integers(2, 11, n))

    def customers_table(self) -> pa.Table:
        """The ``customers`` landing table."""
        first, last, domain = self._customer_names
        n = len(first)
        first_names, last_names = pick_words(FIRST_NAMES, first), pick_words(LAST_NAMES, last)
        customer_ids = format_ids("cu_", np.arange(1, n + 1), 9)
        email = _join(
            pc.utf8_lower(first_names),
            _text("."),
            pc.utf8_lower(last_names),
            pc.cast(pa.array(np.arange(1, n + 1)), pa.large_string()),
            _text("@"),
            pick_words(EMAIL_DOMAINS, domain),
            separator="",
        )
        return contract_table(
            "customers",
            {
                "customer_id": customer_ids,
                "full_name": _join(first_names, last_names, separator=" "),
                "email": email,
                "birth_year": self._birth_year,
                "home_lat": self.home_lat,
                "home_lon": self.home_lon,
                "home_country": pick_words(tuple(city.country for city in CITIES), self.customer_city),
                "created_at": self.customer_created_us,
            },
        )

    def cards_table(self) -> pa.Table:
        """The ``cards`` landing table."""
        return contract_table(
            "cards",
            {
                "card_id": self.card_ids,
                "customer_id": format_ids("cu_", self.card_customer + 1, 9),
                "card_number": card_numbers(CARD_BINS[self.card_type], self._card_accounts),
                "card_type": pick_words(CARD_TYPES, self.card_type),
                "credit_limit_cents": self._card_limit.astype(np.int64),
                "issued_at": self._card_issued_us,
            },
        )

    def merchants_table(self) -> pa.Table:
        """The ``merchants`` landing table."""
        city_names = pick_words(tuple(city.name for city in CITIES), self.merchant_city)
        return contract_table(
            "merchants",
            {
                "merchant_id": self.merchant_ids,
                "merchant_name": _join(
                    pick_words(MERCHANT_WORDS, self._merchant_word),
                    pick_words(CATEGORY_NOUNS, self.merchant_category),
                    city_names,
                    separator=" ",
                ),
                "category": pick_words(CATEGORIES, self.merchant_category),
                "lat": self.merchant_lat,
                "lon": self.merchant_lon,
                "country": pick_words(tuple(city.country for city in CITIES), self.merchant_city),
                "created_at": self._merchant_created_us,
            },
        )

    @cached_property
    def card_ids(self) -> pa.Array:
        """Card id per card index."""
        return format_ids("ca_", np.arange(1, len(self.card_customer) + 1), 9)

    @cached_property
    def merchant_ids(self) -> pa.Array:
        """Merchant id per merchant index."""
        return format_ids("me_", np.arange(1, len(self.merchant_city) + 1), 9)


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, type=pa.large_string())


def _join(*parts: pa.Array | pa.Scalar, separator: str) -> pa.Array:
    """Element-wise concatenation of string arrays (and constant scalars) with a separator."""
    return pc.binary_join_element_wise(*parts, _text(separator))
