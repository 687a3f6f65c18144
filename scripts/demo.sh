#!/usr/bin/env bash
# `make demo`: the whole pipeline on the embedded profile, on a small generated data set.
# Everything is written under the data home (LAKEFORGE_HOME, default .lakeforge/ in the checkout); running it
# again is safe: ingestion skips files it already has, dbt builds incrementally, materialization continues.
set -euo pipefail
home="${LAKEFORGE_HOME:-$(pwd)/.lakeforge}"
landing="$home/landing"
rows="${DEMO_ROWS:-90000}"
days="${DEMO_DAYS:-45}"
cutoff="$(python -c "import datetime as d; print(d.date(2026, 1, 1) + d.timedelta(days=$days))")"
background=()
cleanup() { for pid in "${background[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done; true; }
trap cleanup EXIT
step() { printf '\n\033[1;36m==> %s\033[0m\n' "$*"; }

step "1. Generate $rows synthetic card transactions over $days days into $landing"
lakeforge generate --rows "$rows" --days "$days" --seed 7 --out "$landing"

step "2. Ingest the landing files into Iceberg raw tables (contract-checked, bad rows to quarantine)"
lakeforge ingest "$landing"

step "3. Build the staging, curated and feature layers with dbt (Iceberg materialization, tests gate publishing)"
lakeforge transform build

step "4. Feast: register feature_repo/, materialize online, show an online vector and a training set"
lakeforge features apply
python -m scripts.demo_features

step "5. Train the fraud model on Ray from fraud_model_v1, evaluate, register, promote a champion"
lakeforge train --workers 2 --cutoff "$cutoff" --label-maturity-days 15
lakeforge models list

step "6. Score payments over HTTP with Ray Serve (champion model, online features)"
python -m scripts.demo_scoring

step "7. Query the lake through the Trino-protocol endpoint, as a BI tool would"
lakeforge sql --port "${DEMO_SQL_PORT:-8080}" > "$home/sql-endpoint.log" 2>&1 &
background+=("$!")
python -m scripts.demo_sql_query --port "${DEMO_SQL_PORT:-8080}" --sql "SELECT merchant_category, count(*) AS transactions, round(avg(amount_cents) / 100.0, 2) AS avg_amount FROM curated.fct_transactions GROUP BY 1 ORDER BY 2 DESC"
python -m scripts.demo_sql_query --port "${DEMO_SQL_PORT:-8080}" --user analyst --sql "SELECT customer_id, email_token, home_country FROM curated.dim_customers LIMIT 3"
cleanup; background=()

step "Every table in the lake"
lakeforge tables
