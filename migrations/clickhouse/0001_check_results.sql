-- Fresh check results. One row per result; redeliveries collapse on result_id
-- (ReplacingMergeTree: read with FINAL or LIMIT 1 BY result_id where counts matter).
-- Partitioned by day so the archiver can move and drop whole days.
-- Valid on ClickHouse 18.16 and current releases (no LowCardinality, no DateTime64).
CREATE TABLE IF NOT EXISTS check_results
(
    result_id       UUID,
    job_id          UUID,
    target_id       UUID,
    region          String,
    pinger_id       String,
    check_kind      String,
    checked_at      DateTime,
    finished_at     DateTime,
    duration_ms     UInt32,
    outcome         Enum8('up' = 1, 'degraded' = 2, 'down' = 3),
    failure_kind    String,
    failure_phase   String,
    failure_message String,
    status_code     UInt16,
    dns_ms          Float32,
    connect_ms      Float32,
    tls_ms          Float32,
    ttfb_ms         Float32,
    transfer_ms     Float32,
    resolved_ip     String,
    tls_days_left   Nullable(Int32),
    probe_degraded  UInt8,
    detail          String,
    inserted_at     DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(checked_at)
ORDER BY (target_id, checked_at, result_id);
