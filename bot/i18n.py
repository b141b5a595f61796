"""The bot's own messages in English, Russian and Belarusian. Pure data and one lookup function.

Values are Telegram HTML templates; arguments are escaped by the caller (`t` escapes str kwargs).
Operator-only messages stay English (operators run the service and read its logs in English).
"""

from __future__ import annotations

import html

LANGUAGES = {"en": "English", "ru": "Русский", "be": "Беларуская"}

# key -> (en, ru, be)
CATALOGUE: dict[str, tuple[str, str, str]] = {
    "welcome": (
        "Subscribed: you will get an alert when a watched channel announces a pardon, release, amnesty, transfer "
        "or exchange. /settings chooses what you receive; /help lists the commands.",
        "Подписка оформлена: вы получите сообщение, когда отслеживаемый канал объявит о помиловании, освобождении, "
        "амнистии, передаче или обмене. /settings — что получать; /help — список команд.",
        "Падпіска аформлена: вы атрымаеце паведамленне, калі канал, за якім сочыць бот, абвесціць пра памілаванне, "
        "вызваленне, амністыю, перадачу або абмен. /settings — што атрымліваць; /help — спіс каманд.",
    ),
    "already": (
        "You are already subscribed. /status shows what you receive; /help lists the commands.",
        "Вы уже подписаны. /status — что вы получаете; /help — список команд.",
        "Вы ўжо падпісаныя. /status — што вы атрымліваеце; /help — спіс каманд.",
    ),
    "request_sent": (
        "Your request was sent to the operators. I will tell you when it is approved.",
        "Ваш запрос отправлен операторам. Я сообщу, когда его одобрят.",
        "Ваш запыт адпраўлены аператарам. Я паведамлю, калі яго адобраць.",
    ),
    "no_operators": (
        "This bot admits people after an operator's approval, but no operator is configured yet. "
        "Please contact whoever runs it.",
        "Этот бот принимает подписчиков после одобрения оператора, но операторы ещё не настроены. "
        "Свяжитесь с теми, кто его запустил.",
        "Гэты бот прымае падпісчыкаў пасля адабрэння аператара, але аператары яшчэ не наладжаныя. "
        "Звяжыцеся з тымі, хто яго запусціў.",
    ),
    "request_waiting": (
        "Your request is still waiting for an operator's approval.",
        "Ваш запрос ещё ждёт одобрения оператора.",
        "Ваш запыт яшчэ чакае адабрэння аператара.",
    ),
    "invite_needed": (
        "This bot is invite-only. Ask an operator for an invite link, then open it or send /start CODE.",
        "Этот бот работает по приглашениям. Попросите ссылку у оператора и откройте её или отправьте /start КОД.",
        "Гэты бот працуе па запрашэннях. Папытайце спасылку ў аператара і адкрыйце яе або дашліце /start КОД.",
    ),
    "invite_bad": (
        "That invite code is not valid (unknown, expired or used up). Ask an operator for a new one.",
        "Этот код приглашения недействителен (неизвестен, истёк или уже использован). Попросите новый у оператора.",
        "Гэты код запрашэння несапраўдны (невядомы, скончыўся або ўжо выкарыстаны). Папытайце новы ў аператара.",
    ),
    "revoked": (
        "Your access was revoked by the operators. Contact them if you think this is a mistake.",
        "Операторы отозвали ваш доступ. Свяжитесь с ними, если это ошибка.",
        "Аператары адклікалі ваш доступ. Звяжыцеся з імі, калі гэта памылка.",
    ),
    "approved": (
        "An operator approved your request: you are subscribed. /help lists the commands.",
        "Оператор одобрил ваш запрос: подписка оформлена. /help — список команд.",
        "Аператар адобрыў ваш запыт: падпіска аформлена. /help — спіс каманд.",
    ),
    "denied": (
        "Your request to receive alerts was declined by the operators.",
        "Операторы отклонили ваш запрос на получение сообщений.",
        "Аператары адхілілі ваш запыт на атрыманне паведамленняў.",
    ),
    "not_subscribed": (
        "You are not subscribed. Send /start to subscribe.",
        "Вы не подписаны. Отправьте /start, чтобы подписаться.",
        "Вы не падпісаныя. Дашліце /start, каб падпісацца.",
    ),
    "stopped": (
        "Unsubscribed: no more alerts. /start subscribes again; /forget deletes everything stored about you.",
        "Подписка отменена. /start — подписаться снова; /forget — удалить всё, что о вас хранится.",
        "Падпіска адменена. /start — падпісацца зноў; /forget — выдаліць усё, што пра вас захоўваецца.",
    ),
    "help_head": (
        "<b>tgwatch</b>: alerts about pardons and prisoner releases.",
        "<b>tgwatch</b>: сообщения о помилованиях и освобождениях.",
        "<b>tgwatch</b>: паведамленні пра памілаванні і вызваленні.",
    ),
    "unknown_command": (
        "Unknown command /{name}. Send /help for the list.",
        "Неизвестная команда /{name}. Список: /help.",
        "Невядомая каманда /{name}. Спіс: /help.",
    ),
    "send_help": (
        "Send /help to see what I can do.",
        "Отправьте /help, чтобы узнать, что я умею.",
        "Дашліце /help, каб даведацца, што я ўмею.",
    ),
    "operator_only": (
        "Sorry, that command is for the operators of this tgwatch.",
        "Извините, эта команда только для операторов.",
        "Прабачце, гэтая каманда толькі для аператараў.",
    ),
    "internal_error": (
        "Error: something went wrong on our side; the operators can see it in the log. Please try again later.",
        "Ошибка на нашей стороне; операторы увидят её в журнале. Попробуйте позже.",
        "Памылка на нашым баку; аператары ўбачаць яе ў журнале. Паспрабуйце пазней.",
    ),
    "paused": (
        "Paused: matching alerts are kept and arrive as one digest when you send /resume.",
        "Пауза: подходящие сообщения сохраняются и придут одной сводкой после /resume.",
        "Паўза: патрэбныя паведамленні захоўваюцца і прыйдуць адной зводкай пасля /resume.",
    ),
    "already_paused": (
        "You are already paused. /resume gets alerts again.",
        "Пауза уже включена. /resume — снова получать сообщения.",
        "Паўза ўжо ўключаная. /resume — зноў атрымліваць паведамленні.",
    ),
    "resumed": (
        "Resumed: alerts arrive again. Held alerts: {n} (they come as one digest now).",
        "Продолжаем: сообщения снова приходят. Отложено: {n} (придут одной сводкой сейчас).",
        "Працягваем: паведамленні зноў прыходзяць. Адкладзена: {n} (прыйдуць адной зводкай зараз).",
    ),
    "not_paused": (
        "You are not paused.",
        "Пауза не включена.",
        "Паўза не ўключаная.",
    ),
    "forget_confirm": (
        "This deletes everything stored about you: subscription, filters, queued alerts. It cannot be undone. "
        "Press the button or send /forget yes.",
        "Это удалит всё, что о вас хранится: подписку, фильтры, очередь сообщений. Отменить нельзя. "
        "Нажмите кнопку или отправьте /forget yes.",
        "Гэта выдаліць усё, што пра вас захоўваецца: падпіску, фільтры, чаргу паведамленняў. Адмяніць нельга. "
        "Націсніце кнопку або дашліце /forget yes.",
    ),
    "forget_button": ("Yes, delete everything", "Да, удалить всё", "Так, выдаліць усё"),
    "forgotten": (
        "Done: everything stored about you is deleted. Send /start if you ever want alerts again.",
        "Готово: всё, что о вас хранилось, удалено. Отправьте /start, если снова захотите получать сообщения.",
        "Гатова: усё, што пра вас захоўвалася, выдалена. Дашліце /start, калі зноў захочаце атрымліваць паведамленні.",
    ),
    "nothing_stored": ("Nothing is stored about you.", "О вас ничего не хранится.", "Пра вас нічога не захоўваецца."),
    "language_set": ("Language: English.", "Язык: русский.", "Мова: беларуская."),
    "language_usage": (
        "Usage: /language en, ru or be.",
        "Использование: /language en, ru или be.",
        "Выкарыстанне: /language en, ru або be.",
    ),
    "all": ("all", "все", "усе"),
    "labels_set": ("Labels: {labels}.", "Категории: {labels}.", "Катэгорыі: {labels}."),
    "labels_unknown": (
        "Unknown label(s): {bad}. Known labels: {known}. Example: /labels pardon release, or /labels all.",
        "Неизвестные категории: {bad}. Известные: {known}. Пример: /labels pardon release или /labels all.",
        "Невядомыя катэгорыі: {bad}. Вядомыя: {known}. Прыклад: /labels pardon release або /labels all.",
    ),
    "confidence_set": ("Minimum confidence: {value}.", "Минимальная уверенность: {value}.",
                       "Мінімальная ўпэўненасць: {value}."),
    "confidence_usage": (
        "Usage: /confidence 0.7 (a number from 0 to 1; 0 means everything).",
        "Использование: /confidence 0.7 (число от 0 до 1; 0 — всё).",
        "Выкарыстанне: /confidence 0.7 (лік ад 0 да 1; 0 — усё).",
    ),
    "terms_list": ("Your watch terms: {terms}.", "Ваши слова для отслеживания: {terms}.",
                   "Вашы словы для адсочвання: {terms}."),
    "terms_none": (
        "You have no watch terms. Add one with /terms add Tsikhanouski (any spelling and case form matches).",
        "Слов для отслеживания нет. Добавьте: /terms add Тихановский (подойдут любое написание и падеж).",
        "Словаў для адсочвання няма. Дадайце: /terms add Ціханоўскі (падыдуць любы напіс і склон).",
    ),
    "term_added": (
        "Added watch term “{term}”: it also matches other spellings and case forms.",
        "Добавлено «{term}»: подойдут и другие написания, и падежи.",
        "Дададзена «{term}»: падыдуць і іншыя напісанні, і склоны.",
    ),
    "term_removed": ("Removed watch term “{term}”.", "Удалено «{term}».", "Выдалена «{term}»."),
    "term_not_found": (
        "You have no watch term “{term}”. /terms lists them.",
        "Слова «{term}» нет в вашем списке. /terms — список.",
        "Слова «{term}» няма ў вашым спісе. /terms — спіс.",
    ),
    "terms_cleared": ("All watch terms removed.", "Все слова удалены.", "Усе словы выдалены."),
    "term_bad": (
        "A watch term is a name or a few words (letters or digits, at most {max} characters), "
        "e.g. /terms add Tsikhanouski.",
        "Слово для отслеживания — имя или несколько слов (буквы или цифры, не больше {max} знаков), "
        "например /terms add Тихановский.",
        "Слова для адсочвання — імя або некалькі словаў (літары або лічбы, не больш за {max} знакаў), "
        "напрыклад /terms add Ціханоўскі.",
    ),
    "terms_too_many": (
        "You already have {max} watch terms; remove one first with /terms remove WORDS.",
        "У вас уже {max} слов; сначала удалите одно: /terms remove СЛОВО.",
        "У вас ужо {max} словаў; спачатку выдаліце адно: /terms remove СЛОВА.",
    ),
    "terms_usage": (
        "Usage: /terms, /terms add WORDS, /terms remove WORDS, /terms clear.",
        "Использование: /terms, /terms add СЛОВА, /terms remove СЛОВА, /terms clear.",
        "Выкарыстанне: /terms, /terms add СЛОВЫ, /terms remove СЛОВЫ, /terms clear.",
    ),
    "channels_set": ("Channels: {channels}.", "Каналы: {channels}.", "Каналы: {channels}."),
    "channels_unknown": (
        "Not watched: {bad}. Watched channels: {known}. Example: /from @channel, or /from all.",
        "Не отслеживаются: {bad}. Отслеживаемые каналы: {known}. Пример: /from @channel или /from all.",
        "Не адсочваюцца: {bad}. Каналы, за якімі сочыць бот: {known}. Прыклад: /from @channel або /from all.",
    ),
    "mode_instant": ("Delivery: instant.", "Доставка: сразу.", "Дастаўка: адразу."),
    "mode_digest": (
        "Delivery: one digest a day at {hour}:00 ({tz}).",
        "Доставка: одна сводка в день в {hour}:00 ({tz}).",
        "Дастаўка: адна зводка ў дзень а {hour}:00 ({tz}).",
    ),
    "mode_mixed": (
        "Delivery: pardons and releases at once, everything else in a digest at {hour}:00 ({tz}).",
        "Доставка: помилования и освобождения сразу, остальное — сводкой в {hour}:00 ({tz}).",
        "Дастаўка: памілаванні і вызваленні адразу, астатняе — зводкай а {hour}:00 ({tz}).",
    ),
    "mode_usage": (
        "Usage: /mode instant, /mode digest or /mode mixed (pardons and releases at once, the rest in a digest).",
        "Использование: /mode instant, /mode digest или /mode mixed (помилования и освобождения сразу, "
        "остальное сводкой).",
        "Выкарыстанне: /mode instant, /mode digest або /mode mixed (памілаванні і вызваленні адразу, "
        "астатняе зводкай).",
    ),
    "digest_usage": (
        "Usage: /digest HOUR [TIME ZONE], e.g. /digest 9 Europe/Minsk (hour 0-23).",
        "Использование: /digest ЧАС [ЧАСОВОЙ ПОЯС], например /digest 9 Europe/Minsk (час 0-23).",
        "Выкарыстанне: /digest ГАДЗІНА [ЧАСАВЫ ПОЯС], напрыклад /digest 9 Europe/Minsk (гадзіна 0-23).",
    ),
    "timezone_bad": (
        "Unknown time zone “{tz}”: use a name like Europe/Minsk, Europe/Vilnius or UTC.",
        "Неизвестный часовой пояс «{tz}»: укажите, например, Europe/Minsk, Europe/Vilnius или UTC.",
        "Невядомы часавы пояс «{tz}»: пазначце, напрыклад, Europe/Minsk, Europe/Vilnius або UTC.",
    ),
    "status_state": ("Status: {state}.", "Статус: {state}.", "Статус: {state}."),
    "state_active": ("subscribed", "подписка активна", "падпіска актыўная"),
    "state_paused": ("paused (/resume)", "на паузе (/resume)", "на паўзе (/resume)"),
    "state_pending": ("waiting for approval", "ждёт одобрения", "чакае адабрэння"),
    "state_stopped": ("unsubscribed (/start)", "отписаны (/start)", "адпісаныя (/start)"),
    "state_revoked": ("access revoked", "доступ отозван", "доступ адкліканы"),
    "state_blocked": ("unreachable (the bot was blocked)", "недоступен (бот заблокирован)",
                      "недаступны (бот заблакаваны)"),
    "status_filters": (
        "Labels: {labels}\nChannels: {channels}\nMinimum confidence: {conf}\nWatch terms: {terms}\nLanguage: {language}",
        "Категории: {labels}\nКаналы: {channels}\nМинимальная уверенность: {conf}\nСлова: {terms}\nЯзык: {language}",
        "Катэгорыі: {labels}\nКаналы: {channels}\nМінімальная ўпэўненасць: {conf}\nСловы: {terms}\nМова: {language}",
    ),
    "status_queue": ("Queued for you: {n}.", "В очереди для вас: {n}.", "У чарзе для вас: {n}."),
    "status_why": (
        "Why: you get a post when its label is in your labels, it comes from your channels and the detector is at "
        "least this confident, or when it mentions one of your watch terms.",
        "Почему: пост приходит, если его категория среди ваших, он из ваших каналов и уверенность не ниже порога, "
        "или если в нём упомянуто одно из ваших слов.",
        "Чаму: пост прыходзіць, калі яго катэгорыя сярод вашых, ён з вашых каналаў і ўпэўненасць не ніжэй за "
        "парог, або калі ў ім згадана адно з вашых словаў.",
    ),
    "none": ("none", "нет", "няма"),
    "latest_none": (
        "No captured post matches your filters yet.",
        "Пока ни один сохранённый пост не подходит под ваши фильтры.",
        "Пакуль ніводзін захаваны пост не адпавядае вашым фільтрам.",
    ),
    "latest_head": ("Latest matching posts ({n}):", "Последние подходящие посты ({n}):",
                    "Апошнія адпаведныя пасты ({n}):"),
    "latest_usage": (
        "Usage: /latest or /latest N (N from 1 to {max}).",
        "Использование: /latest или /latest N (N от 1 до {max}).",
        "Выкарыстанне: /latest або /latest N (N ад 1 да {max}).",
    ),
    "search_usage": (
        "Usage: /search WORDS, e.g. /search помилованы (words of 2 or more letters).",
        "Использование: /search СЛОВА, например /search помилованы (слова от 2 букв).",
        "Выкарыстанне: /search СЛОВЫ, напрыклад /search памілаваны (словы ад 2 літар).",
    ),
    "search_none": ("Nothing found for “{q}”.", "По запросу «{q}» ничего не найдено.",
                    "Па запыце «{q}» нічога не знойдзена."),
    "search_head": ("Found for “{q}” ({n}):", "Найдено по запросу «{q}» ({n}):",
                    "Знойдзена па запыце «{q}» ({n}):"),
    "settings_head": (
        "<b>Settings</b>: choose what to change.",
        "<b>Настройки</b>: выберите, что изменить.",
        "<b>Налады</b>: абярыце, што змяніць.",
    ),
    "btn_labels": ("Labels", "Категории", "Катэгорыі"),
    "btn_channels": ("Channels", "Каналы", "Каналы"),
    "btn_confidence": ("Confidence", "Уверенность", "Упэўненасць"),
    "btn_mode": ("Delivery", "Доставка", "Дастаўка"),
    "btn_hour": ("Digest hour", "Час сводки", "Час зводкі"),
    "btn_language": ("Language", "Язык", "Мова"),
    "btn_back": ("« Back", "« Назад", "« Назад"),
    "btn_all": ("All", "Все", "Усе"),
    "settings_terms_hint": (
        "Watch terms are set with /terms add WORDS.",
        "Слова для отслеживания задаются командой /terms add СЛОВА.",
        "Словы для адсочвання задаюцца камандай /terms add СЛОВЫ.",
    ),
    "settings_expired": (
        "This menu is out of date; send /settings again.",
        "Это меню устарело; отправьте /settings ещё раз.",
        "Гэтае меню састарэла; дашліце /settings яшчэ раз.",
    ),
    "digest_head": ("📰 <b>Digest</b>: {n} alert(s)", "📰 <b>Сводка</b>: {n}", "📰 <b>Зводка</b>: {n}"),
    "digest_more": (
        "…and {n} more; /latest shows recent ones.",
        "…и ещё {n}; /latest — последние.",
        "…і яшчэ {n}; /latest — апошнія.",
    ),
    "edited_header": (
        "✏️ The source post was edited at {when}{what}.",
        "✏️ Исходный пост отредактирован {when}{what}.",
        "✏️ Зыходны пост адрэдагаваны {when}{what}.",
    ),
    "deleted_header": (
        "🗑 The source post was deleted by the channel; the captured text is kept below.",
        "🗑 Канал удалил исходный пост; сохранённый текст ниже.",
        "🗑 Канал выдаліў зыходны пост; захаваны тэкст ніжэй.",
    ),
    "change_count": ("count {a} → {b}", "число {a} → {b}", "колькасць {a} → {b}"),
    "change_names_added": ("names added: {names}", "добавлены имена: {names}", "дададзены імёны: {names}"),
    "change_names_removed": ("names removed: {names}", "убраны имена: {names}", "прыбраныя імёны: {names}"),
    "change_label": ("label {a} → {b}", "категория {a} → {b}", "катэгорыя {a} → {b}"),
    "change_countries": ("citizenship: {a} → {b}", "гражданство: {a} → {b}", "грамадзянства: {a} → {b}"),
    "change_text": ("text changed", "изменён текст", "зменены тэкст"),
    "input_too_long": (
        "That is too long: at most {max} characters here.",
        "Слишком длинно: здесь не больше {max} знаков.",
        "Занадта доўга: тут не больш за {max} знакаў.",
    ),
}


def t(lang: str | None, key: str, /, **kwargs: object) -> str:
    """The message `key` in `lang` (English when missing); str arguments are HTML-escaped."""
    idx = {"en": 0, "ru": 1, "be": 2}.get(lang or "en", 0)
    entry = CATALOGUE[key]
    template = entry[idx] or entry[0]
    safe = {k: html.escape(v, quote=False) if isinstance(v, str) else v for k, v in kwargs.items()}
    return template.format(**safe) if safe else template


def raw(lang: str | None, key: str, /, **kwargs: object) -> str:
    """Like `t` but without escaping (for button captions and plain text)."""
    idx = {"en": 0, "ru": 1, "be": 2}.get(lang or "en", 0)
    template = CATALOGUE[key][idx] or CATALOGUE[key][0]
    return template.format(**kwargs) if kwargs else template


# Command descriptions in Russian and Belarusian (English lives in handlers.commands.COMMANDS).
COMMAND_DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "start": ("подписаться на сообщения (с кодом приглашения, если он нужен)",
              "падпісацца на паведамленні (з кодам запрашэння, калі ён патрэбны)"),
    "settings": ("выбрать категории, каналы, уверенность, доставку и язык кнопками",
                 "выбраць катэгорыі, каналы, упэўненасць, дастаўку і мову кнопкамі"),
    "status": ("что вы получаете и почему", "што вы атрымліваеце і чаму"),
    "latest": ("последние подходящие посты: /latest [N]", "апошнія адпаведныя пасты: /latest [N]"),
    "search": ("поиск по сохранённым постам: /search СЛОВА", "пошук па захаваных пастах: /search СЛОВЫ"),
    "terms": ("слова для отслеживания: /terms, /terms add …, /terms remove …, /terms clear",
              "словы для адсочвання: /terms, /terms add …, /terms remove …, /terms clear"),
    "labels": ("какие новости: /labels all или /labels pardon release …",
               "якія навіны: /labels all або /labels pardon release …"),
    "from": ("какие каналы: /from all или /from @канал …", "якія каналы: /from all або /from @канал …"),
    "confidence": ("минимальная уверенность детектора: /confidence 0.7",
                   "мінімальная ўпэўненасць дэтэктара: /confidence 0.7"),
    "mode": ("доставка: /mode instant, digest или mixed", "дастаўка: /mode instant, digest або mixed"),
    "digest": ("время сводки: /digest ЧАС [ЧАСОВОЙ ПОЯС]", "час зводкі: /digest ГАДЗІНА [ЧАСАВЫ ПОЯС]"),
    "pause": ("отложить сообщения до /resume", "адкласці паведамленні да /resume"),
    "resume": ("снова получать сообщения (отложенные придут сводкой)",
               "зноў атрымліваць паведамленні (адкладзеныя прыйдуць зводкай)"),
    "language": ("язык бота: /language en, ru или be", "мова бота: /language en, ru або be"),
    "stop": ("отписаться", "адпісацца"),
    "forget": ("удалить всё, что о вас хранится", "выдаліць усё, што пра вас захоўваецца"),
    "help": ("список команд", "спіс каманд"),
}


def command_description(name: str, english: str, lang: str | None) -> str:
    """A command's one-line description in `lang` (operator commands stay English)."""
    idx = {"ru": 0, "be": 1}.get(lang or "en")
    pair = COMMAND_DESCRIPTIONS.get(name)
    return pair[idx] if pair is not None and idx is not None else english
