{#- Every (recency score, frequency-monetary score) cell of the 5 x 5 grid has exactly one RFM segment. -#}

with scores as (

    select * from (values (1), (2), (3), (4), (5)) as scores (score)

),

cells as (

    select recency.score as recency_score, frequency_monetary.score as frequency_monetary_score
    from scores as recency
    cross join scores as frequency_monetary

),

matches as (

    select cells.recency_score, cells.frequency_monetary_score, count(segments.rfm_segment) as segments
    from cells
    left join {{ ref('rfm_segments') }} as segments
        on cells.recency_score between segments.recency_score_min and segments.recency_score_max
        and cells.frequency_monetary_score
            between segments.frequency_monetary_score_min and segments.frequency_monetary_score_max
    group by 1, 2

)

select * from matches where segments <> 1
