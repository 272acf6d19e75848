-- A heartbeat's deadline in a narrow table of its own.
--
-- Every ping moves its heartbeat's deadline (`alert_at`), which is indexed for the deadline
-- watch. Kept in `heartbeats`, it made every ping's update of the row a non-HOT one: a new
-- entry in each of the table's four indexes. Here a ping updates `heartbeats` in place (no
-- indexed column changes, so the update is HOT) and only this table's two small indexes.
-- Every writer of a deadline holds its heartbeat's row locked (`for update`) first.
create table heartbeat_deadlines (
    target_id uuid primary key references heartbeats (target_id) on delete cascade,
    -- When silence becomes a failure: the earlier of expected_at + grace and
    -- started_at + grace (none before the first ping and while paused).
    alert_at  timestamptz
);
insert into heartbeat_deadlines (target_id, alert_at) select target_id, alert_at from heartbeats;
create index heartbeat_deadlines_alert_idx on heartbeat_deadlines (alert_at) where alert_at is not null;
drop index heartbeats_alert_idx;
alter table heartbeats drop column alert_at;
-- Room in each page for an updated row's new version beside the old one, as HOT needs.
alter table heartbeats set (fillfactor = 70);

-- A ping belongs to its heartbeat, and is checked against the heartbeat's row, which the ping
-- writer holds locked already (against `targets`, each new ping locked a second row). The
-- pings of a target that stopped being a heartbeat go with its heartbeat row.
delete from heartbeat_pings p where not exists (select 1 from heartbeats h where h.target_id = p.target_id);
alter table heartbeat_pings drop constraint heartbeat_pings_target_id_fkey,
    add constraint heartbeat_pings_target_id_fkey
        foreign key (target_id) references heartbeats (target_id) on delete cascade;
