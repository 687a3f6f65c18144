select
    merchant_id,
    merchant_name,
    merchant_category,
    lat,
    lon,
    country,
    created_at
from {{ ref('stg_payments__merchants') }}
