-- Issue 19: write-only secrets, the private-targets permission and per-user quotas.

-- Secret values of a target's spec, sealed (nonce ‖ ChaCha20-Poly1305 ciphertext of a JSON map
-- keyed by place). `spec` keeps a mask in their place, so readers of specs never see them.
alter table targets add column secrets bytea;

-- Whether the user may monitor private, loopback and link-local addresses (effective only when
-- the installation allows private targets; admins always may).
alter table users add column may_private_targets boolean not null default false;

-- Per-user quota overrides: `{"max_targets": 5, ...}`; a missing key means the default.
alter table users add column quota_overrides jsonb not null default '{}'::jsonb
    check (jsonb_typeof(quota_overrides) = 'object');

-- A change of sealed secrets reschedules like a change of the spec.
drop trigger targets_notify_update on targets;
create trigger targets_notify_update
    after update of spec, secrets, kind, interval_seconds, regions, paused on targets
    for each row execute function pingtower_notify_target_change();

-- The scheduler learns of a changed permission (every job carries its owner's): the payload
-- `owner:<id>` reloads that owner's targets.
create function pingtower_notify_owner_change() returns trigger
language plpgsql as $$
begin
    if new.may_private_targets is distinct from old.may_private_targets
       or new.is_admin is distinct from old.is_admin then
        perform pg_notify('pingtower_targets', 'owner:' || new.id::text);
    end if;
    return new;
end;
$$;

create trigger users_notify_permission
    after update of may_private_targets, is_admin on users
    for each row execute function pingtower_notify_owner_change();
