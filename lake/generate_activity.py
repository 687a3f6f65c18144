"""One day of card activity: legitimate purchases, fraud incidents, and the chargebacks that label them.

Legitimate and fraudulent transactions of a day come from separate random streams seeded by (seed, day), so the
fraud of any day (hence the chargebacks it causes, reported 1-30 days later) can be recomputed without
regenerating that day's legitimate traffic.

Ids are time-ordered, as UUIDv7s and many payment processors' references are: the day in the leading digits (a
chargeback's: its transaction's day), then a keyed bijective scramble of (stream, index) within the day. They are
unique without coordination and do not reveal which stream a row came from, and each day's ids fill a range of
their own, so a lookup of new ids skips the data files of other days by their column statistics (a one-day
build's key tests read that day's files, not the whole table).

Fraud patterns, each learnable from features a lakehouse can compute:

- card testing: a burst of 3-8 small online amounts on one card within minutes, often followed by a cash-out;
- amount spike: 8-40 times the card's own typical amount;
- far from home: card-present use in a city far from the cardholder's home (cloned card);
- new category: online purchases in risky categories the card has never used (account takeover);
- breached merchant: cards seen at a few compromised shops are used fraudulently 1-10 days later.

About 4 % of fraud is never charged back (the cardholder never notices), as in real portfolios.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa

from lake.contracts import get_contract
from lake.generate_text import format_ids, pick_words
from lake.generate_world import (
    CATEGORY,
    CATEGORY_AMOUNT_FACTOR,
    CITIES,
    CITY_LAT,
    CITY_LON,
    DAY_US,
    ONLINE_SHARE,
    USUAL_CATEGORY_WEIGHTS,
    USUAL_MERCHANTS,
    World,
    contract_table,
)

MAX_CHARGEBACK_DELAY_DAYS = 30
CHARGEBACK_SHARE = 0.96
HOUR_US = 3_600_000_000
CHANNELS = ("pos", "online", "atm")
POS, ONLINE, ATM = range(3)
REASON_CODES = ("fraud_card_present", "fraud_card_absent", "fraud_account_takeover")
CARD_PRESENT, CARD_ABSENT, ACCOUNT_TAKEOVER = range(3)
CURRENCIES = ("EUR", "USD", "GBP")
CITY_CURRENCY = np.array([CURRENCIES.index(city.currency) for city in CITIES])
_WITHIN_DAY_BITS = 48
"""Low bits of an id that number it within its day; the day takes the 16 above them (179 years of days)."""

LEGIT_HOURS = np.array([
    0.3, 0.2, 0.15, 0.1, 0.1, 0.2, 0.5, 1.2, 2.0, 2.5, 2.8, 3.2,  # 00:00-11:59
    4.0, 3.6, 3.0, 2.8, 3.0, 3.6, 4.2, 4.0, 3.2, 2.4, 1.5, 0.8,  # 12:00-23:59
])  # fmt: skip
"""Relative traffic per UTC hour: quiet nights, lunch and evening peaks."""
FRAUD_HOURS = np.array([
    1.6, 1.8, 1.9, 1.8, 1.5, 1.2, 1.0, 1.0, 1.1, 1.2, 1.2, 1.3,  # 00:00-11:59
    1.4, 1.3, 1.2, 1.2, 1.3, 1.4, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5,  # 12:00-23:59
])  # fmt: skip
"""Fraud is flatter over the day and peaks at night, when cardholders sleep."""
USUAL_SLOT_WEIGHTS = np.array([0.3, 0.2, 0.14, 0.1, 0.09, 0.07, 0.05, 0.05])
EXPLORE_SHARE = 0.14
"""Share of legitimate purchases at a merchant outside the card's usual ones (in its home city)."""
TRAVEL_SHARE = 0.015
"""Share of legitimate purchases made while travelling (another city)."""
ATM_SHARE = 0.02

CARD_TESTING, AMOUNT_SPIKE, FAR_FROM_HOME, NEW_CATEGORY, BREACH_VICTIM = range(5)
INCIDENT_WEIGHTS = np.array([0.2, 0.3, 0.25, 0.25])
"""How often each pattern other than breach victims starts an incident."""
INCIDENT_REASON = np.array([CARD_ABSENT, CARD_ABSENT, CARD_PRESENT, ACCOUNT_TAKEOVER, CARD_PRESENT])
RISKY_CATEGORIES = np.array([CATEGORY[name] for name in ("digital_goods", "gambling", "electronics", "travel")])
SHOP_CATEGORIES = np.array([CATEGORY[name] for name in ("grocery", "restaurant", "fuel", "electronics", "fashion")])
SPIKE_CATEGORIES = np.array([CATEGORY[name] for name in ("electronics", "travel", "fashion")])


@dataclass
class Activity:
    """Transactions of one day and stream, one array element per transaction (in generation order)."""

    card: np.ndarray
    merchant: np.ndarray
    amount_cents: np.ndarray
    channel: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    at_us: np.ndarray
    transaction_id: pa.Array


@dataclass
class Fraud:
    """A day's fraud transactions and their chargebacks (where the cardholder disputes them)."""

    activity: Activity
    reason: np.ndarray
    charged_back: np.ndarray
    reported_at_us: np.ndarray
    reported_day: np.ndarray
    chargeback_id: pa.Array


class DailyActivity:
    """Transactions and chargebacks of any day of one world; each day's fraud is computed once and reused."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._fraud: dict[int, Fraud] = {}
        salts = world.rng("id-salts").integers(0, 1 << _WITHIN_DAY_BITS, 2, dtype=np.uint64)
        self._transaction_salt, self._chargeback_salt = (np.uint64(salt) for salt in salts)

    def transactions_table(self, day: int) -> pa.Table:
        """The ``transactions`` rows of one day, in time order."""
        rows, world = _concat(self._legit(day), self.fraud(day).activity), self.world
        table = contract_table(
            "transactions",
            {
                "transaction_id": rows.transaction_id,
                "card_id": world.card_ids.take(pa.array(rows.card)),
                "merchant_id": world.merchant_ids.take(pa.array(rows.merchant)),
                "amount_cents": rows.amount_cents,
                "currency": pick_words(CURRENCIES, CITY_CURRENCY[world.merchant_city[rows.merchant]]),
                "channel": pick_words(CHANNELS, rows.channel),
                "lat": rows.lat,
                "lon": rows.lon,
                "transaction_at": rows.at_us,
            },
        )
        return table.sort_by("transaction_at")

    def chargebacks_table(self, day: int) -> pa.Table:
        """The ``chargebacks`` reported on one day (for fraud of the 30 days before), in time order."""
        parts = [get_contract("chargebacks").arrow_schema().empty_table()]
        for fraud_day in range(max(0, day - MAX_CHARGEBACK_DELAY_DAYS), day):
            fraud = self.fraud(fraud_day)
            picked = pa.array(np.flatnonzero(fraud.charged_back & (fraud.reported_day == day)))
            parts.append(
                contract_table(
                    "chargebacks",
                    {
                        "chargeback_id": fraud.chargeback_id.take(picked),
                        "transaction_id": fraud.activity.transaction_id.take(picked),
                        "reason_code": pick_words(REASON_CODES, fraud.reason).take(picked),
                        "amount_cents": pa.array(fraud.activity.amount_cents).take(picked),
                        "reported_at": pa.array(fraud.reported_at_us).take(picked),
                    },
                )
            )
        self._forget_before(day - MAX_CHARGEBACK_DELAY_DAYS)
        return pa.concat_tables(parts).sort_by("reported_at")

    def fraud(self, day: int) -> Fraud:
        """The fraud transactions of one day and their chargebacks (cached)."""
        if day not in self._fraud:
            self._fraud[day] = self._draw_fraud(day)
        return self._fraud[day]

    def _forget_before(self, day: int) -> None:
        for cached in [cached for cached in self._fraud if cached < day]:
            del self._fraud[cached]

    def _ids(self, prefix: str, salt: np.uint64, day: int, stream: int, n: int) -> pa.Array:
        """``n`` ids of one day and stream: 16 hex digits, the day in the first four (see the module docstring)."""
        keys = (np.uint64(stream) << np.uint64(32)) | np.arange(n, dtype=np.uint64)
        within_day = _scramble_within_day(keys ^ salt)
        return format_ids(prefix, (np.uint64(day) << np.uint64(_WITHIN_DAY_BITS)) | within_day, 16, base=16)

    def _legit(self, day: int) -> Activity:
        world, rng = self.world, self.world.rng("legit", day)
        n = int(world.day_counts[day] - world.fraud_counts[day])
        visits = np.flatnonzero(world.victims.visit_day == day)[:n]
        rest = n - len(visits)
        card = np.minimum(np.searchsorted(world.card_activity_cdf, rng.random(rest)), len(world.card_city) - 1)
        merchant = world.card_usual[card, rng.choice(USUAL_MERCHANTS, size=rest, p=USUAL_SLOT_WEIGHTS)]
        kind = rng.random(rest)
        city = world.card_city[card]
        city = np.where(kind >= 1 - TRAVEL_SHARE, (city + rng.integers(1, len(CITIES), rest)) % len(CITIES), city)
        category = rng.choice(len(USUAL_CATEGORY_WEIGHTS), size=rest, p=USUAL_CATEGORY_WEIGHTS)
        explore = kind >= 1 - EXPLORE_SHARE - TRAVEL_SHARE
        merchant = np.where(explore, world.merchant_in(city, category, rng.random(rest)), merchant)
        card = np.concatenate([card, world.victims.card[visits]])
        merchant = np.concatenate([merchant, world.victims.merchant[visits]])
        offset = np.concatenate([_draw_offsets(rng, LEGIT_HOURS, rest), world.victims.visit_offset_us[visits]])
        category = world.merchant_category[merchant]
        is_visit = np.arange(n) >= rest
        online = (rng.random(n) < ONLINE_SHARE[category]) & ~is_visit
        channel = np.where(online, ONLINE, np.where(rng.random(n) < ATM_SHARE, ATM, POS))
        amount = world.card_typical_cents[card] * CATEGORY_AMOUNT_FACTOR[category] * rng.lognormal(0, 0.5, n)
        customer = world.card_customer[card]
        device_lat = world.home_lat[customer] + rng.normal(0, 0.02, n)
        device_lon = world.home_lon[customer] + rng.normal(0, 0.02, n)
        unknown_device = rng.random(n) < 0.1
        device_lat[unknown_device] = np.nan
        device_lon[unknown_device] = np.nan
        return self._activity(day, 0, card, merchant, amount, channel, device_lat, device_lon, offset)

    def _draw_incidents(
        self, rng: np.random.Generator, day: int, target: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Fraud incidents of a day (kind, card, rows, ends with a cash-out), cut to exactly ``target`` rows.

        Breach victims whose fraud falls on this day come first; random incidents of the other kinds follow.
        """
        world = self.world
        victims = np.flatnonzero(world.victims.fraud_day == day)
        kind = np.concatenate([np.full(len(victims), BREACH_VICTIM), rng.choice(4, size=target, p=INCIDENT_WEIGHTS)])
        card = np.concatenate([world.victims.card[victims], rng.integers(0, len(world.card_city), target)])
        m = len(kind)
        cash_out = rng.random(m) < 0.6
        size = np.select(
            [kind == CARD_TESTING, kind == AMOUNT_SPIKE, kind == FAR_FROM_HOME, kind == NEW_CATEGORY],
            [rng.integers(3, 9, m) + cash_out, rng.integers(1, 3, m), rng.integers(2, 5, m), rng.integers(1, 4, m)],
            rng.integers(1, 3, m),
        )
        # Every random incident has at least one row, so the first `target` incidents always reach `target` rows.
        end = np.cumsum(size)
        last = int(np.searchsorted(end, target))
        if last < m:
            size[last] -= end[last] - target
        kept = np.flatnonzero(size[: last + 1] > 0)
        return kind[kept], card[kept], size[kept], cash_out[kept]

    def _draw_fraud(self, day: int) -> Fraud:
        world, rng = self.world, self.world.rng("fraud", day)
        target = int(world.fraud_counts[day])
        kind, card, size, cash_out = self._draw_incidents(rng, day, target)
        m = len(kind)

        incident = np.repeat(np.arange(m), size)
        first = np.concatenate([[0], np.cumsum(size)[:-1]])
        position = np.arange(target) - first[incident]
        row_kind, row_card = kind[incident], card[incident]
        cashing_out = (row_kind == CARD_TESTING) & cash_out[incident] & (position == size[incident] - 1)
        home = world.card_city[row_card]
        far = world.far_city(world.card_city[card], rng.random(m))[incident]
        anywhere = rng.integers(0, len(CITIES), m)[incident]

        city = np.select(
            [row_kind == AMOUNT_SPIKE, np.isin(row_kind, [FAR_FROM_HOME, BREACH_VICTIM])], [home, far], anywhere
        )
        category = np.select(
            [cashing_out, row_kind == CARD_TESTING, row_kind == AMOUNT_SPIKE, row_kind == NEW_CATEGORY],
            [
                np.full(target, CATEGORY["electronics"]),
                np.full(target, CATEGORY["digital_goods"]),
                rng.choice(SPIKE_CATEGORIES, target),
                _unused_risky_category(world.card_used_categories[row_card], rng),
            ],
            rng.choice(SHOP_CATEGORIES, target),
        )
        u = np.where((row_kind == CARD_TESTING) & ~cashing_out, rng.random(m)[incident], rng.random(target))
        merchant = world.merchant_in(city, category, u)

        typical = world.card_typical_cents[row_card]
        amount = np.select(
            [cashing_out, row_kind == CARD_TESTING, row_kind == AMOUNT_SPIKE, row_kind == NEW_CATEGORY],
            [
                typical * rng.uniform(5, 15, target),
                rng.integers(50, 500, target).astype(np.float64),
                typical * rng.uniform(8, 40, target),
                typical * rng.uniform(2, 6, target),
            ],
            typical * rng.uniform(1.5, 6, target),
        )
        card_present = np.isin(row_kind, [FAR_FROM_HOME, BREACH_VICTIM])
        atm_share = np.where(row_kind == BREACH_VICTIM, 0.5, 0.35)
        channel = np.select(
            [card_present, row_kind == AMOUNT_SPIKE],
            [
                np.where(rng.random(target) < atm_share, ATM, POS),
                np.where(rng.random(target) < 0.5, ONLINE, POS),
            ],
            ONLINE,
        )
        customer, spike = world.card_customer[row_card], row_kind == AMOUNT_SPIKE
        device_lat = np.where(spike, world.home_lat[customer], CITY_LAT[anywhere]) + rng.normal(0, 0.03, target)
        device_lon = np.where(spike, world.home_lon[customer], CITY_LON[anywhere]) + rng.normal(0, 0.03, target)
        hidden = (row_kind == CARD_TESTING) & (rng.random(target) < 0.7)
        device_lat[hidden] = np.nan
        device_lon[hidden] = np.nan

        start = _draw_offsets(rng, FRAUD_HOURS, m)[incident]
        shortest_gap_us = 1_000_000 * np.select(
            [cashing_out, row_kind == CARD_TESTING, row_kind == AMOUNT_SPIKE, row_kind == NEW_CATEGORY],
            [300, 5, 1800, 120],
            600,
        )
        gap = rng.integers(shortest_gap_us, 12 * shortest_gap_us + 1)
        gap[position == 0] = 0
        elapsed = np.cumsum(gap)
        offset = np.minimum(start + elapsed - elapsed[first[incident]], DAY_US - 1)

        activity = self._activity(day, 1, row_card, merchant, amount, channel, device_lat, device_lon, offset)
        delay = DAY_US + (rng.beta(1.3, 4.0, target) * (MAX_CHARGEBACK_DELAY_DAYS - 1) * DAY_US).astype(np.int64)
        reported_at = activity.at_us + delay
        return Fraud(
            activity=activity,
            reason=INCIDENT_REASON[row_kind],
            charged_back=rng.random(target) < CHARGEBACK_SHARE,
            reported_at_us=reported_at,
            reported_day=(reported_at - world.origin_us) // DAY_US,
            chargeback_id=self._ids("cb_", self._chargeback_salt, day, 1, target),
        )

    def _activity(
        self,
        day: int,
        stream: int,
        card: np.ndarray,
        merchant: np.ndarray,
        amount: np.ndarray,
        channel: np.ndarray,
        device_lat: np.ndarray,
        device_lon: np.ndarray,
        offset_us: np.ndarray,
    ) -> Activity:
        """Rows with final amounts (cents, whole notes at ATMs) and places (the shop, or the device online)."""
        world = self.world
        amount = np.where(channel == ATM, np.maximum(1000, np.round(amount / 1000) * 1000), np.round(amount))
        online = channel == ONLINE
        return Activity(
            card=card,
            merchant=merchant,
            amount_cents=np.clip(amount, 1, 100_000_000).astype(np.int64),
            channel=channel,
            lat=np.where(online, np.round(device_lat, 6), world.merchant_lat[merchant]),
            lon=np.where(online, np.round(device_lon, 6), world.merchant_lon[merchant]),
            at_us=world.origin_us + day * DAY_US + offset_us.astype(np.int64),
            transaction_id=self._ids("tx_", self._transaction_salt, day, stream, len(card)),
        )


def _draw_offsets(rng: np.random.Generator, hour_weights: np.ndarray, n: int) -> np.ndarray:
    """Microseconds since midnight, following an hourly traffic profile."""
    hour = rng.choice(24, size=n, p=hour_weights / hour_weights.sum())
    return hour * HOUR_US + rng.integers(0, HOUR_US, n)


def _unused_risky_category(used: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per row, a risky category the card has not used among its usual merchants (gambling if it used all)."""
    unused = ~used[:, RISKY_CATEGORIES]
    score = rng.random(unused.shape) * unused
    pick = RISKY_CATEGORIES[np.argmax(score, axis=1)]
    return np.where(unused.any(axis=1), pick, CATEGORY["gambling"])


def _scramble_within_day(keys: np.ndarray) -> np.ndarray:
    """A bijection on the :data:`_WITHIN_DAY_BITS`-bit integers (splitmix64's finalizer cut to that width: adding,
    multiplying by an odd number and xor-ing with a right shift are each invertible modulo a power of two), so
    distinct keys give distinct ids."""
    mask = np.uint64((1 << _WITHIN_DAY_BITS) - 1)
    z = (keys + np.uint64(0x9E3779B97F4A7C15)) & mask
    z = ((z ^ (z >> np.uint64(24))) * np.uint64(0xBF58476D1CE4E5B9)) & mask
    z = ((z ^ (z >> np.uint64(21))) * np.uint64(0x94D049BB133111EB)) & mask
    return z ^ (z >> np.uint64(24))


def _concat(*parts: Activity) -> Activity:
    columns = {}
    for field in fields(Activity):
        values = [getattr(part, field.name) for part in parts]
        columns[field.name] = pa.concat_arrays(values) if field.name == "transaction_id" else np.concatenate(values)
    return Activity(**columns)
