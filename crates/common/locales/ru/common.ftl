# Числа и длительности, общие для всех текстов. Существительное при числе следует правилам
# CLDR для русского: `one` (1, 21, 101), `few` (2–4, 22–24), `many` (0, 5–20, 25–30),
# `other` (дроби: 1,5).

count-days = { $n ->
    [one] { $n } день
    [few] { $n } дня
    [many] { $n } дней
   *[other] { $n } дня
}
count-hops = { $n ->
    [one] { $n } переход
    [few] { $n } перехода
    [many] { $n } переходов
   *[other] { $n } перехода
}

## Длительность: её части (см. `common::i18n::duration`) через пробел.

duration = { $parts }
duration-days = { $n } д
duration-hours = { $n } ч
duration-minutes = { $n } мин
duration-seconds = { $n } с

# A group incident's shared cause (common::i18n::cause_msg), after "N targets are down: ".
cause-ip = все разрешаются в { $address } ({ $kind })
cause-host = все на { $host } ({ $kind })
cause-dns = резолвер { $resolver } отвечает ошибкой { $rcode }
cause-cert = все предъявляют один и тот же отвергнутый сертификат { $fingerprint }…
cause-region = все недоступны только из { $region } ({ $kind }, фаза { $phase }), остальные регионы их видят
