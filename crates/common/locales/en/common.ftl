# Counts and durations, shared by every text. A count's noun follows CLDR's English plural
# rules: `one` (1) and `other` (0, 2, 1.5…).

count-days = { $n ->
    [one] { $n } day
   *[other] { $n } days
}
count-hops = { $n ->
    [one] { $n } hop
   *[other] { $n } hops
}

## A duration: its parts (see `common::i18n::duration`) joined by spaces.

duration = { $parts }
duration-days = { $n } d
duration-hours = { $n } h
duration-minutes = { $n } min
duration-seconds = { $n } s

# A group incident's shared cause (common::i18n::cause_msg), after "N targets are down: ".
cause-ip = all resolve to { $address } ({ $kind })
cause-host = all are on { $host } ({ $kind })
cause-dns = the resolver { $resolver } fails with { $rcode }
cause-cert = all present the same rejected certificate { $fingerprint }…
cause-region = all fail from { $region } only ({ $kind } in the { $phase } phase) while the other regions see them up
