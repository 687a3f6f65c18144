#!/usr/bin/env bash
# `make demo`: the whole story on the embedded profile, on a small generated data set.
# A first cycle builds the lake and trains the first champion; the scoring service and the SQL endpoint answer
# an app and a BI tool; then one more day lands and a second, incremental cycle runs on it.
# Everything is written under the data home (LAKEFORGE_HOME, default .lakeforge/ in the checkout); running it
# again is safe: ingestion skips files it already has, and a cycle skips every step that has nothing to do.
set -euo pipefail
home="${LAKEFORGE_HOME:-$(pwd)/.lakeforge}"
landing="$home/landing"
incoming="$home/incoming"
rows="${DEMO_ROWS:-90000}"
days="${DEMO_DAYS:-45}"
next_day="$(printf 'd%04d' "$days")"
sql_port="${DEMO_SQL_PORT:-8080}"
background=()
cleanup() { for pid in "${background[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done; true; }
trap cleanup EXIT
step() { printf '\n\033[1;36m==> %s\033[0m\n' "$*"; }

step "1. Generate $rows synthetic card transactions over $((days + 1)) days; land the first $days days in $landing"
lakeforge generate --rows "$rows" --days "$((days + 1))" --seed 7 --out "$incoming"
mkdir -p "$landing"
find "$incoming" -maxdepth 1 -type f ! -name "*-$next_day.*" -exec mv -t "$landing" {} +

step "2. Run a cycle: ingest, dbt build, Feast materialize, drift check, train and promote the first champion"
lakeforge run

step "3. The ML engineer's view: an online feature vector and a point-in-time training set from fraud_model_v1"
python -m scripts.demo_features
lakeforge models list

step "4. The app's view: score payments over HTTP with Ray Serve, then the day that has not landed yet"
python -m scripts.demo_scoring --replay "$incoming/transactions-$next_day.parquet" --limit 2000

step "5. The BI tool's view: query the lake through the Trino-protocol endpoint"
lakeforge sql --port "$sql_port" > "$home/sql-endpoint.log" 2>&1 &
background+=("$!")
python -m scripts.demo_sql_query --port "$sql_port" --sql "SELECT merchant_category, count(*) AS transactions, round(avg(amount_cents) / 100.0, 2) AS avg_amount FROM curated.fct_transactions GROUP BY 1 ORDER BY 2 DESC"
python -m scripts.demo_sql_query --port "$sql_port" --user analyst --sql "SELECT customer_id, email_token, home_country FROM curated.dim_customers LIMIT 3"
cleanup; background=()

step "6. The next day lands: an incremental cycle, with drift judged on the predictions just logged"
find "$incoming" -maxdepth 1 -type f -name "*-$next_day.*" -exec mv -t "$landing" {} +
lakeforge run

step "7. What changed: the cycles on record, the new snapshots of the fact table, drift per feature"
lakeforge run --history
lakeforge history curated.fct_transactions
lakeforge drift

step "8. The operator's chores: compact the small files streaming left behind, expire old snapshots"
lakeforge maintain
lakeforge tables
