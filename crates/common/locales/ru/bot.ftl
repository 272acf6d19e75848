# Ответы Telegram-бота (notifier/src/bot.rs). Ответы — HTML Telegram: аргументы приходят
# экранированными; bot-help и bot-mute-usage экранируются целиком.

bot-private-chat-only = Пожалуйста, пишите мне в личном чате.
bot-failed = Что-то пошло не так; попробуйте ещё раз.
bot-unknown-command = Неизвестная команда.
bot-start-linked = Этот чат подключён к PingTower.
bot-start-refused = Ссылка недействительна, уже использована или устарела. Получите новую в панели: Каналы → Telegram.
bot-start-linked-elsewhere = Этот чат уже подключён к другой учётной записи PingTower. Сначала отправьте /unlink.
bot-start-done = ✅ Готово. Оповещения о ваших целях PingTower будут приходить в этот чат.
bot-status-all-up = 🟢 Все цели работают. ({ $total })
bot-status-title = Есть проблемы
bot-status-line = { $icon } { $name } — { $status } с { $since }
bot-targets-none = У вас пока нет целей.
bot-targets-title = Цели
bot-incidents-none = Инцидентов нет.
bot-incidents-title = Инциденты
bot-incident-resolved = ✅ решён ({ $lasted })
bot-incident-acknowledged = 👀 принят
bot-incident-open = 🔴 открыт
bot-incident-line = { $name } — { $state } — с { $since }
bot-mute-usage = Использование: /mute <цель> <длительность>, например /mute Shop 2h (или /mute all 30m).
bot-mute-all-done = 🔕 Все оповещения отключены до { $until }
bot-no-such-target = Нет цели с именем { $name }
bot-mute-done = 🔕 { $name } без оповещений до { $until }
bot-unmute-all-done = 🔔 Все оповещения снова включены.
bot-unmute-done = 🔔 { $name } — оповещения снова включены.
bot-lang-usage = Использование: /lang en или /lang ru
bot-lang-done = Язык: русский.
bot-unlink-done = Чат отключён и больше не получает оповещений; подключите его снова в панели.
bot-button-unknown = Неизвестная кнопка.
bot-button-ack-done = Принято.
bot-button-ack-already = Уже принято.
bot-button-incident-not-found = Инцидент не найден.
bot-button-target-not-found = Цель не найдена.
bot-button-mute-done = Оповещения в этом чате отключены на 1 час.
bot-help = 
    Команды:
    /status — недоступные и деградировавшие цели
    /targets — все цели
    /incidents — последние инциденты
    /mute <цель> <длительность> — отключить оповещения (например /mute Shop 2h)
    /unmute [цель] — снова включить
    /lang en|ru — язык
    /unlink — больше не присылать оповещения в этот чат
    /help — этот список
bot-not-linked = Этот чат ещё не подключён к PingTower. В панели откройте Каналы → Telegram и перейдите по ссылке.
status-up = работает
status-down = недоступен
status-degraded = деградация
status-flapping = нестабилен
status-pending = проверяется
status-paused = на паузе
status-unknown = неизвестно
