# Оповещения, отчёты и письма notifier (notifier/src/text.rs, deliver.rs). Аргументы
# приходят неэкранированными; экранирует код разметки.

notify-report-subject = [PingTower] Отчёт об инциденте
notify-button-acknowledge = ✅ Принять
notify-button-mute = 🔕 Тишина 1 ч
notify-open-dashboard = Открыть в панели
notify-badge-degraded = 🟠 ДЕГРАДАЦИЯ
notify-headline-degraded = { $name } работает с перебоями
notify-badge-down = 🔴 НЕДОСТУПЕН
notify-headline-down = { $name } недоступен
notify-badge-resolved = ✅ ВОССТАНОВЛЕН
notify-headline-resolved = { $name } снова работает
notify-badge-certificate = 🟡 СЕРТИФИКАТ
notify-headline-certificate = { $name }: сертификат скоро истекает
notify-badge-flapping = 🟣 НЕСТАБИЛЕН
notify-headline-flapping = { $name } слишком часто меняет состояние; оповещения приостановлены до стабилизации
notify-badge-probe = ⚠️ ЗОНД
notify-headline-probe = Пингер { $name } потерял связь; его результаты не учитываются
notify-fact-target = Цель
notify-fact-failure = Что сломалось
notify-fact-certificate = Сертификат
notify-certificate-expires = истекает { $when } (осталось { $days })
notify-fact-since = С
notify-fact-downtime = Длительность
notify-fact-regions = Регионы
notify-unsubscribe = Отписаться
notify-report-summary = Кратко
notify-report-cause = Вероятная причина
notify-report-impact = Влияние
notify-report-actions = Что делать
notify-report-title = Отчёт
notify-report-mail-title = Отчёт об инциденте
notify-verify-subject = [PingTower] Подтвердите адрес электронной почты
notify-verify-intro = Кто-то (надеемся, вы) добавил этот адрес в PingTower для оповещений. Откройте ссылку, чтобы подтвердить его:
notify-verify-ignore = Если это были не вы, просто проигнорируйте письмо: ничего отправлено не будет.
notify-verify-confirm = Подтвердить

# Каналы всех видов (crates/channels): подписи, напоминания, сводки и тестовое сообщение.
notify-acknowledge = Принять
notify-badge-report = 📝 ОТЧЁТ
notify-headline-report = Отчёт: { $name }
notify-badge-reminder = ⏰ ВСЁ ЕЩЁ НЕДОСТУПЕН
notify-headline-reminder = { $name } всё ещё недоступен
notify-badge-reminder-degraded = ⏰ ВСЁ ЕЩЁ С ПЕРЕБОЯМИ
notify-headline-reminder-degraded = { $name } всё ещё работает с перебоями
notify-fact-open-for = Длится
notify-fact-escalation = Эскалация
notify-fact-dependency = Зависимость
notify-dependency-recovered = { $name } восстановилась, а эта цель всё ещё недоступна
notify-escalation-step = шаг { $step } политики «{ $policy }»: без подтверждения { $duration }
notify-badge-digest = 🔴 СБОЙ
notify-headline-digest = { $count ->
    [one] { $count } инцидент открыт одновременно
    [few] { $count } инцидента открыты одновременно
   *[many] { $count } инцидентов открыты одновременно
}
notify-headline-digest-cause = { $count ->
    [one] { $count } цель недоступна: { $cause }
    [few] { $count } цели недоступны: { $cause }
   *[many] { $count } целей недоступны: { $cause }
}
notify-headline-group-update = { $count ->
    [one] К сбою добавилась ещё { $count } цель: { $cause }
    [few] К сбою добавились ещё { $count } цели: { $cause }
   *[many] К сбою добавились ещё { $count } целей: { $cause }
}
notify-headline-group-recovered = { $count ->
    [one] После сбоя ({ $cause }) восстановилась { $count } цель; недоступно ещё { $open }
    [few] После сбоя ({ $cause }) восстановились { $count } цели; недоступно ещё { $open }
   *[many] После сбоя ({ $cause }) восстановились { $count } целей; недоступно ещё { $open }
}
notify-headline-group-over = { $count ->
    [one] Сбой закончился: восстановилась последняя { $count } цель ({ $cause })
    [few] Сбой закончился: восстановились последние { $count } цели ({ $cause })
   *[many] Сбой закончился: восстановились последние { $count } целей ({ $cause })
}
notify-badge-digest-resolved = ✅ ВОССТАНОВЛЕНО
notify-headline-digest-resolved = { $count ->
    [one] { $count } инцидент закрыт
    [few] { $count } инцидента закрыты
   *[many] { $count } инцидентов закрыты
}
notify-digest-more = { $count ->
    [one] и ещё { $count }
    [few] и ещё { $count }
   *[many] и ещё { $count }
}
notify-badge-test = 🔔 ТЕСТ
notify-headline-test = Тестовое сообщение от PingTower: канал работает
