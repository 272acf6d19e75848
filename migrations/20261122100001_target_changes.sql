-- The scheduler learns of target changes within moments: every insert, delete and change of a
-- scheduled column notifies `pingtower_targets` with the target id. (The scheduler's own
-- next_run_at updates do not notify.)
create function pingtower_notify_target_change() returns trigger
language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        perform pg_notify('pingtower_targets', old.id::text);
        return old;
    end if;
    perform pg_notify('pingtower_targets', new.id::text);
    return new;
end;
$$;

create trigger targets_notify_insert_delete
    after insert or delete on targets
    for each row execute function pingtower_notify_target_change();

create trigger targets_notify_update
    after update of spec, kind, interval_seconds, regions, paused on targets
    for each row execute function pingtower_notify_target_change();
