-- Runs that failed or were not believed
-- Crawl runs of a store (empty: every store), newest first, that did not record a whole store: failed
-- (nothing recorded), suspect (changes and removals held for `storewatch accept`) or partial (no removals).
-- error_summary says why. The same runs as `storewatch runs --status failed` (suspect, partial).
SELECT id,
       store,
       observed_at,
       status,
       error_summary,
       models_seen,
       added,
       changed,
       removed,
       returned,
       errors,
       started_at,
       finished_at
FROM crawl_runs
WHERE status IN ('failed', 'suspect', 'partial')
  AND (:store = '' OR store = :store)
ORDER BY observed_at DESC, id DESC
