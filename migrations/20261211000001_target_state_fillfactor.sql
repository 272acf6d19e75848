-- Room in each page of `target_state` for an updated row's new version beside the old one.
--
-- The incident engine rewrites a target's row with every result (its machine, last result
-- and last good result: about 1.1 KiB). With full pages the new version went to another
-- page: a non-HOT update, a new entry in both of the table's indexes, and a table that grew
-- while autovacuum caught up (`bench_pings` with the engine: 8 % of 72,000 updates were HOT
-- and 5,000 rows took 80 MB in 30 s). With half of each page free, the update is HOT (no
-- indexed column changes unless the status does) and the page's old versions are pruned in
-- place. Pages written from now on keep the room; older ones gain it as their rows move.
alter table target_state set (fillfactor = 50);
