-- The history of a model
-- Every version of one model, oldest first, as `storewatch history STORE MODEL_ID` shows it: when it held
-- (valid_from until valid_to; no valid_to: current), how it began (added, changed, returned) and ended
-- (changed; removed; nothing while current), and each element that changed, {element: {old, new}}.
SELECT v.valid_from,
       v.valid_to,
       v.change,
       CASE
           WHEN v.valid_to IS NULL THEN NULL
           WHEN lead(v.valid_from) OVER versions_in_order = v.valid_to THEN 'changed'
           ELSE 'removed'  -- a gap before the next version (or none): the model was gone
       END AS ended_by,
       -- storewatch_changes() is the comparison `storewatch diff` makes, added to SQLite by `storewatch serve`
       CASE WHEN v.change = 'added' THEN '{}'
            ELSE storewatch_changes(lag(v.elements) OVER versions_in_order, v.elements) END AS changes,
       v.elements,
       v.content_hash,
       v.opened_by_run,
       v.closed_by_run
FROM models AS m
JOIN model_versions AS v ON v.model_pk = m.id
WHERE m.store = :store AND m.model_id = :model_id
WINDOW versions_in_order AS (ORDER BY v.valid_from, v.id)
ORDER BY v.valid_from, v.id
