-- Escalation steps may name members (`member_ids` beside `channel_ids` in each step of
-- `escalation_policies.steps`); the notifier reaches each on the verified channels of their
-- personal organisation, while they belong to the policy's organisation. A member who leaves
-- (removed, left, or the organisation deleted) is dropped from its policies' steps here, so a
-- policy never names someone outside the organisation.
create function escalation_drop_member() returns trigger language plpgsql as $$
begin
    update escalation_policies p
    set steps = (select jsonb_agg(case when e.s ? 'member_ids'
                                       then jsonb_set(e.s, '{member_ids}', (e.s -> 'member_ids') - old.user_id::text)
                                       else e.s end
                                  order by e.n)
                 from jsonb_array_elements(p.steps) with ordinality as e(s, n)),
        updated_at = now()
    where p.owner_id = old.org_id
      and exists (select 1 from jsonb_array_elements(p.steps) as x(s)
                  where x.s -> 'member_ids' ? old.user_id::text);
    return old;
end $$;

create trigger memberships_drop_from_escalation
    after delete on memberships
    for each row execute function escalation_drop_member();

-- A Telegram link made in an organisation puts the chat there (a team's chat is the team's
-- channel); null (older links) puts it in its maker's personal organisation.
alter table telegram_link_tokens add column org_id uuid references organisations (id) on delete cascade;
