"""Every text of the columns feature, in Simplified Chinese and English."""

from bot.i18n import register

register(
    {
        # --- notes to the admins ---------------------------------------------------------
        "columns.note.skipped": {
            "zh-CN": "⏭ 栏目「{title}」{slot} 在 {count} 个群没有发出：已超过 {grace} 分钟的补发时限（机器人停机或内容未就绪），本期跳过。群：{groups}",
            "en": "⏭ Column \"{title}\" {slot} was not posted in {count} group(s): past the {grace}-minute grace window (the bot was down or the content was not ready), so this slot is skipped. Groups: {groups}",
        },
        "columns.note.missing_ahead": {
            "zh-CN": "📭 栏目「{title}」{slot} 还没有内容：请添加 {hint}。没有内容时这一期不会发送（不会发空消息）。",
            "en": "📭 Column \"{title}\" {slot} has no entry yet: please add {hint}. Without one, nothing is posted for that slot (never an empty post).",
        },
        "columns.note.failed": {
            "zh-CN": "❌ 栏目「{title}」{slot} 在 {count} 个群发送失败（不会自动重发）：{details}",
            "en": "❌ Column \"{title}\" {slot} could not be posted in {count} group(s) (not retried automatically): {details}",
        },
        "columns.note.unknown": {
            "zh-CN": "⚠️ 栏目「{title}」{slot}：机器人在发送途中停止，以下 {count} 个群可能收到也可能没收到；为避免重复，不会自动重发，请人工确认：{groups}",
            "en": "⚠️ Column \"{title}\" {slot}: the bot stopped while sending; these {count} group(s) may or may not have received it. To avoid a duplicate it is not re-sent — please check by hand: {groups}",
        },
        "columns.note.uncertain": {
            "zh-CN": "⚠️ 栏目「{title}」{slot}：平台没有及时答复，以下 {count} 个群可能收到也可能没收到；为避免重复，不会自动重发，请人工确认：{groups}",
            "en": "⚠️ Column \"{title}\" {slot}: the platform did not answer in time; these {count} group(s) may or may not have received it. To avoid a duplicate it is not re-sent — please check by hand: {groups}",
        },
        "columns.note.without_image": {
            "zh-CN": "🖼 栏目「{title}」{slot}：{count} 个群所在的平台不能发图片，只发出了文字：{groups}",
            "en": "🖼 Column \"{title}\" {slot}: the platform of {count} group(s) cannot send photos; only the text was posted: {groups}",
        },
        "columns.problem.template": {
            "zh-CN": "🧩 栏目「{title}」{slot} 的模板有错误，本期暂不发送（{count} 个群）：{detail}",
            "en": "🧩 Column \"{title}\" {slot}: the template has an error, nothing is posted until it is fixed ({count} group(s)): {detail}",
        },
        "columns.problem.missing_entry": {
            "zh-CN": "📭 栏目「{title}」{slot} 没有找到内容，本期暂不发送（{count} 个群）。请添加：{detail}",
            "en": "📭 Column \"{title}\" {slot}: no entry found, nothing is posted ({count} group(s)). Please add: {detail}",
        },
        "columns.problem.feed": {
            "zh-CN": "📡 栏目「{title}」{slot} 的订阅源获取失败，本期暂不发送，会在补发时限内重试：{detail}",
            "en": "📡 Column \"{title}\" {slot}: the feed could not be fetched; nothing is posted, retrying within the grace window: {detail}",
        },
        "columns.problem.empty_queue": {
            "zh-CN": "📭 栏目「{title}」{slot} 的待发队列是空的，本期暂不发送。用 {detail} 添加内容。",
            "en": "📭 Column \"{title}\" {slot}: the queue is empty, nothing is posted. Add items with {detail}",
        },
        "columns.problem.steps": {
            "zh-CN": "🧩 活动「{title}」的步骤文件有错误，暂停推进：{detail}",
            "en": "🧩 Campaign \"{title}\": the steps file has an error; nothing is posted until it is fixed: {detail}",
        },
        "columns.problem.nothing_new": {
            "zh-CN": "栏目「{title}」{slot}：{detail}",
            "en": "Column \"{title}\" {slot}: {detail}",
        },
        "columns.campaign.removed": {
            "zh-CN": "活动「{name}」已不在配置中，本群的这次活动已停止。",
            "en": "Campaign \"{name}\" is no longer in the config; its run in this group has been stopped.",
        },
        "columns.campaign.failed": {
            "zh-CN": "❌ 活动「{name}」有一步发送失败（不会自动重发）：{detail}",
            "en": "❌ Campaign \"{name}\": a step could not be posted (not retried automatically): {detail}",
        },
        "columns.campaign.skipped": {
            "zh-CN": "⏭ 活动「{name}」的步骤 {steps} 已超过 {grace} 分钟的补发时限，已跳过。",
            "en": "⏭ Campaign \"{name}\": step(s) {steps} were past the {grace}-minute grace window and were skipped.",
        },
        "columns.campaign.finished": {
            "zh-CN": "🏁 活动「{name}」在本群已完成：共 {total} 步，发送 {sent} 步。",
            "en": "🏁 Campaign \"{name}\" has finished in this group: {sent} of {total} steps posted.",
        },
        # --- /columns ----------------------------------------------------------------------
        "columns.list.header": {"zh-CN": "📋 本群的栏目：", "en": "📋 Columns of this group:"},
        "columns.list.none": {
            "zh-CN": "本群还没有栏目。在配置文件的 [columns.column.名称] 中定义，或用 /column new 创建。",
            "en": "This group has no columns yet. Define them under [columns.column.NAME] in the config, or create one with /column new.",
        },
        "columns.list.item": {
            "zh-CN": "• {name}「{title}」｜{source}｜{schedule}｜{tz}\n  下次：{next}{state}",
            "en": "• {name} \"{title}\" | {source} | {schedule} | {tz}\n  next: {next}{state}",
        },
        "columns.list.paused": {"zh-CN": "（已暂停）", "en": " (paused)"},
        "columns.list.never": {"zh-CN": "无", "en": "none"},
        "columns.list.campaigns": {"zh-CN": "🗂 本群的活动：", "en": "🗂 Campaigns in this group:"},
        "columns.list.campaign": {
            "zh-CN": "• {name}「{title}」｜{status}｜第1天 = {start}｜下一步：{next}",
            "en": "• {name} \"{title}\" | {status} | Day 1 = {start} | next step: {next}",
        },
        "columns.list.available": {"zh-CN": "可启动的活动：{names}", "en": "Campaigns you can start: {names}"},
        "columns.status.active": {"zh-CN": "进行中", "en": "running"},
        "columns.status.paused": {"zh-CN": "已暂停", "en": "paused"},
        "columns.status.stopped": {"zh-CN": "已停止", "en": "stopped"},
        "columns.status.finished": {"zh-CN": "已完成", "en": "finished"},
        "columns.source.calendar": {"zh-CN": "内容日历", "en": "content calendar"},
        "columns.source.queue": {"zh-CN": "待发队列", "en": "queue"},
        "columns.source.feed": {"zh-CN": "订阅源", "en": "feed"},
        "columns.source.morning": {"zh-CN": "早报生成", "en": "morning greeting"},
        "columns.source.evening": {"zh-CN": "晚报生成", "en": "evening digest"},
        # --- /column -----------------------------------------------------------------------
        "columns.usage": {
            "zh-CN": (
                "用法：\n/columns — 栏目列表与下次时间\n/column preview 名称 — 预览（私信发给你）\n"
                "/column pause|resume 名称 [all] — 暂停/恢复（all = 所有群，仅运营者）\n"
                "/column add 名称 内容… — 加入待发队列\n/column queue 名称 — 查看队列\n"
                "/column new 名称 来源 [网址] 时间… 或 cron 分 时 日 月 周 — 在本群新建栏目（来源：queue/morning/evening/feed）\n"
                "/column delete 名称 — 删除用命令新建的栏目\n/column template 名称 模板…|reset — 修改模板"
            ),
            "en": (
                "Usage:\n/columns — the columns and their next run times\n/column preview NAME — preview (sent to you by DM)\n"
                "/column pause|resume NAME [all] — pause/resume (all = every group, operators only)\n"
                "/column add NAME text… — add to a queue column\n/column queue NAME — show the queue\n"
                "/column new NAME SOURCE [URL] TIMES… or cron M H D M W — a new column for this group (SOURCE: queue/morning/evening/feed)\n"
                "/column delete NAME — delete a column made with /column new\n/column template NAME text…|reset — change the template"
            ),
        },
        "columns.unknown": {
            "zh-CN": "没有名为「{name}」的栏目。本群的栏目：{names}",
            "en": "There is no column \"{name}\". Columns of this group: {names}",
        },
        "columns.preview_marker": {"zh-CN": "【预览，未正式发布】", "en": "[PREVIEW — not published]"},
        "columns.preview_sent": {"zh-CN": "预览已私信发送给你。", "en": "The preview was sent to you by direct message."},
        "columns.preview_problem": {"zh-CN": "无法预览「{name}」：{detail}", "en": "Cannot preview \"{name}\": {detail}"},
        "columns.paused": {"zh-CN": "栏目「{name}」在本群已暂停。", "en": "Column \"{name}\" is paused in this group."},
        "columns.resumed": {"zh-CN": "栏目「{name}」在本群已恢复，下次：{next}", "en": "Column \"{name}\" resumed in this group; next: {next}"},
        "columns.paused_all": {"zh-CN": "栏目「{name}」已在所有群暂停。", "en": "Column \"{name}\" is paused in every group."},
        "columns.resumed_all": {"zh-CN": "栏目「{name}」已在所有群恢复。", "en": "Column \"{name}\" resumed in every group."},
        "columns.operators_only": {
            "zh-CN": "只有运营者（配置 [columns] operators）可以对所有群操作；可以只对本群操作。",
            "en": "Only operators ([columns] operators in the config) may act on every group; you can act on this group.",
        },
        "columns.not_queue": {
            "zh-CN": "栏目「{name}」的内容来源是{source}，不是待发队列；只能向 queue 栏目添加内容。",
            "en": "Column \"{name}\" takes its content from a {source}, not a queue; items can only be added to queue columns.",
        },
        "columns.added": {"zh-CN": "已加入「{name}」的队列，排在第 {position} 位。", "en": "Added to the queue of \"{name}\", position {position}."},
        "columns.add_usage": {"zh-CN": "用法：/column add 名称 要发的内容…", "en": "Usage: /column add NAME the text to post…"},
        "columns.queue_empty": {"zh-CN": "「{name}」的队列是空的。", "en": "The queue of \"{name}\" is empty."},
        "columns.queue_list": {"zh-CN": "「{name}」待发 {count} 条：\n{items}", "en": "\"{name}\" has {count} item(s) waiting:\n{items}"},
        "columns.created": {
            "zh-CN": "已在本群新建栏目「{name}」（{source}，{schedule}），下次：{next}",
            "en": "Created column \"{name}\" for this group ({source}, {schedule}); next: {next}",
        },
        "columns.create_invalid": {"zh-CN": "无法新建栏目：{detail}", "en": "Cannot create the column: {detail}"},
        "columns.exists": {"zh-CN": "已有名为「{name}」的栏目。", "en": "A column named \"{name}\" already exists."},
        "columns.deleted": {"zh-CN": "栏目「{name}」已删除。", "en": "Column \"{name}\" deleted."},
        "columns.not_deletable": {
            "zh-CN": "栏目「{name}」定义在配置文件中，请在配置里修改；可以用 /column pause 暂停。",
            "en": "Column \"{name}\" is defined in the config file; change it there, or pause it with /column pause.",
        },
        "columns.template_set": {"zh-CN": "栏目「{name}」的模板已更新。", "en": "The template of \"{name}\" was updated."},
        "columns.template_reset": {"zh-CN": "栏目「{name}」已恢复默认模板。", "en": "\"{name}\" uses its default template again."},
        "columns.template_invalid": {"zh-CN": "模板有错误，未保存：{detail}", "en": "The template has an error and was not saved: {detail}"},
        # --- /campaign ---------------------------------------------------------------------
        "columns.campaign.usage": {
            "zh-CN": "用法：/campaign list | start 名称 [YYYY-MM-DD] | pause 名称 | resume 名称 | stop 名称",
            "en": "Usage: /campaign list | start NAME [YYYY-MM-DD] | pause NAME | resume NAME | stop NAME",
        },
        "columns.campaign.unknown": {
            "zh-CN": "没有名为「{name}」的活动。可用：{names}",
            "en": "There is no campaign \"{name}\". Available: {names}",
        },
        "columns.campaign.bad_date": {
            "zh-CN": "「{value}」不是日期，请写成 YYYY-MM-DD，例如 2026-03-09。",
            "en": "\"{value}\" is not a date; write it as YYYY-MM-DD, e.g. 2026-03-09.",
        },
        "columns.campaign.already": {
            "zh-CN": "活动「{name}」已在本群进行（{status}），先 /campaign stop {name} 才能重新开始。",
            "en": "Campaign \"{name}\" is already running here ({status}); /campaign stop {name} first to start it again.",
        },
        "columns.campaign.bad_steps": {"zh-CN": "活动「{name}」的步骤有错误：{detail}", "en": "Campaign \"{name}\" has a problem in its steps: {detail}"},
        "columns.campaign.started": {
            "zh-CN": "🚀 活动「{name}」已在本群启动：第1天 = {start}，共 {total} 步。下一步：{next}{passed}",
            "en": "🚀 Campaign \"{name}\" started here: Day 1 = {start}, {total} steps. Next step: {next}{passed}",
        },
        "columns.campaign.passed": {
            "zh-CN": "\n（{count} 个步骤的时间已过，不会补发。）",
            "en": "\n({count} step(s) already lie in the past and will not be posted.)",
        },
        "columns.campaign.not_running": {"zh-CN": "活动「{name}」没有在本群进行。", "en": "Campaign \"{name}\" is not running in this group."},
        "columns.campaign.paused_ok": {"zh-CN": "活动「{name}」已暂停。恢复后，暂停期间到点的步骤在补发时限内补发，超过的跳过。", "en": "Campaign \"{name}\" paused. On resume, steps that fell due meanwhile are posted within the grace window and skipped after it."},
        "columns.campaign.resumed_ok": {"zh-CN": "活动「{name}」已恢复。", "en": "Campaign \"{name}\" resumed."},
        "columns.campaign.stopped_ok": {"zh-CN": "活动「{name}」已停止。", "en": "Campaign \"{name}\" stopped."},
        "columns.step": {"zh-CN": "第{day}天 {time}", "en": "Day {day} {time}"},
        "columns.campaign.none": {"zh-CN": "本群没有进行中的活动。", "en": "No campaign is running in this group."},
    }
)
