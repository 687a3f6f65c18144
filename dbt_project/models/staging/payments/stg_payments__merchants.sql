with source as (
    select * from {{ source('payments', 'merchants') }}
),

renamed as (
    select
        -- ids
        merchant_id,
        -- attributes
        merchant_name,
        category as merchant_category,
        lat,
        lon,
        country,
        -- timestamps
        created_at
    from source
    qualify row_number() over (partition by merchant_id order by created_at desc) = 1
)

select * from renamed
