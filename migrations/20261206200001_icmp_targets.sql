-- ICMP targets (`kind: icmp`, common::messages::IcmpSpec).

alter table targets drop constraint targets_kind_check;
alter table targets add constraint targets_kind_check check (kind in ('http', 'tcp', 'dns', 'tls', 'icmp'));
