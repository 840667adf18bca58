"""Every text the onboarding feature shows, in zh-CN and en."""

from bot.i18n import register

register(
    {
        "onboarding.contact_welcome": {
            "zh-CN": "👋 您好，感谢添加！有任何问题随时在这里给我留言。",
            "en": "👋 Hello, and thank you for adding me! Leave me a message here whenever you have a question.",
        },
        "onboarding.intro": {
            "zh-CN": "👋 {mention} 欢迎！入群前请在 {minutes} 分钟内回答 {total} 个问题，完成前暂时不能发言，超时将被移出群聊。",
            "en": "👋 Welcome, {mention}! Please answer {total} question(s) within {minutes} minutes before you can post; "
            "if you do not, you will be removed from the group.",
        },
        "onboarding.intro_dm": {
            "zh-CN": "👋 你好！加入「{group}」前请在 {minutes} 分钟内回答 {total} 个问题，直接在这里回复即可。",
            "en": "👋 Hello! Before you join \"{group}\", please answer {total} question(s) here within {minutes} minutes.",
        },
        "onboarding.moved_to_dm": {
            "zh-CN": "{mention} 问题已私信发给你，请查看与我的私聊。",
            "en": "{mention} I have sent you the questions by direct message; please look at our private chat.",
        },
        "onboarding.question": {
            "zh-CN": "{mention}（{n}/{total}）{text}",
            "en": "{mention} ({n}/{total}) {text}",
        },
        "onboarding.hint_type": {
            "zh-CN": "请直接发送文字回答。",
            "en": "Please reply with a message.",
        },
        "onboarding.hint_type_optional": {
            "zh-CN": "请直接发送文字回答（可选，回复「跳过」或点按钮跳过）。",
            "en": "Please reply with a message (optional: reply \"skip\" or press the button).",
        },
        "onboarding.hint_number": {
            "zh-CN": "请发送一个数字（如 3、3.5、三年）。",
            "en": "Please reply with a number (e.g. 3, 3.5, 3 years).",
        },
        "onboarding.hint_pick_number": {
            "zh-CN": "请回复选项前的数字：",
            "en": "Reply with the number of your choice:",
        },
        "onboarding.button_skip": {"zh-CN": "跳过", "en": "Skip"},
        "onboarding.button_agree": {"zh-CN": "✅ 我已阅读并同意", "en": "✅ I have read and agree"},
        "onboarding.button_decline": {"zh-CN": "❌ 不同意", "en": "❌ I do not agree"},
        "onboarding.invalid": {
            "zh-CN": "⚠️ {mention} 这个回答不行：{reason}。请重新回答：",
            "en": "⚠️ {mention} that answer does not work: {reason}. Please answer again:",
        },
        "onboarding.reason.too_short": {"zh-CN": "太短了，至少 {min} 个字", "en": "too short, at least {min} characters"},
        "onboarding.reason.too_long": {"zh-CN": "太长了，最多 {max} 个字", "en": "too long, at most {max} characters"},
        "onboarding.reason.pattern": {"zh-CN": "格式不对", "en": "it is not in the expected format"},
        "onboarding.reason.not_number": {"zh-CN": "请填一个数字（如 3、3.5、三年）", "en": "please give a number (e.g. 3, 3.5, 3 years)"},
        "onboarding.reason.too_small": {"zh-CN": "不能小于 {min}", "en": "it must be at least {min}"},
        "onboarding.reason.too_large": {"zh-CN": "不能大于 {max}", "en": "it must be at most {max}"},
        "onboarding.reason.link": {"zh-CN": "回答里不能有链接", "en": "answers may not contain links"},
        "onboarding.reason.media": {"zh-CN": "请用文字回答，不要发图片或文件", "en": "please answer in text, not with a picture or file"},
        "onboarding.reason.use_buttons": {"zh-CN": "请点击问题下方的按钮作答", "en": "please press one of the buttons under the question"},
        "onboarding.reason.pick": {"zh-CN": "请回复选项前的数字", "en": "please reply with the number of a choice"},
        "onboarding.reason.required": {"zh-CN": "这个问题必须回答", "en": "this question needs an answer"},
        "onboarding.toast_not_yours": {
            "zh-CN": "这是给新成员 {name} 的问题，你不用回答哦。",
            "en": "This question is for the newcomer {name}, not for you.",
        },
        "onboarding.intro_shared": {
            "zh-CN": "🚨 {mentions} 欢迎！群里正处于严格模式：请在 {minutes} 分钟内回答 {total} 个问题，完成前不能发言，超时将被移出群聊。请各自点击下面的按钮作答。",
            "en": "🚨 Welcome, {mentions}! The group is in strict mode: please answer {total} question(s) within {minutes} minutes "
            "before you can post, or you will be removed. Each of you, press your own answer below.",
        },
        "onboarding.toast_not_newcomer": {
            "zh-CN": "这是给新成员的问题，你不用回答哦。",
            "en": "These questions are for newcomers, not for you.",
        },
        "onboarding.toast_expired": {"zh-CN": "这个问题已经过期了。", "en": "This question has expired."},
        "onboarding.toast_ok": {"zh-CN": "已记录：{answer}", "en": "Noted: {answer}"},
        "onboarding.skipped_answer": {"zh-CN": "（跳过）", "en": "(skipped)"},
        "onboarding.part.value": {"zh-CN": "群价值", "en": "What this group offers"},
        "onboarding.part.rules": {"zh-CN": "群规则", "en": "Rules"},
        "onboarding.part.penalties": {"zh-CN": "惩罚机制", "en": "Penalties"},
        "onboarding.part.vision": {"zh-CN": "社群愿景", "en": "Our vision"},
        "onboarding.your_tags": {"zh-CN": "你的标签：{tags}", "en": "Your tags: {tags}"},
        "onboarding.points_awarded": {"zh-CN": "🎁 完成入群问答，获得 {points} 积分。", "en": "🎁 {points} points for completing the questionnaire."},
        "onboarding.inviter_awarded": {
            "zh-CN": "🎁 感谢 {inviter} 邀请新成员，获得 {points} 积分。",
            "en": "🎁 Thanks to {inviter} for the invitation: {points} points.",
        },
        "onboarding.removed_notice": {
            "zh-CN": "⏰ {names} 未在 {minutes} 分钟内完成入群问答，已被移出群聊（可重新申请加入后作答）。",
            "en": "⏰ {names} did not answer the entry questions within {minutes} minutes and has been removed "
            "(they may join again and answer).",
        },
        "onboarding.refused_notice": {
            "zh-CN": "{mention} 不同意群规，已被移出群聊。",
            "en": "{mention} did not accept the group rules and has been removed.",
        },
        "onboarding.declined_dm": {
            "zh-CN": "你没有在 {minutes} 分钟内回答完问题，入群申请已被拒绝。欢迎之后重新申请。",
            "en": "You did not answer the questions within {minutes} minutes, so your join request was declined. You may ask again later.",
        },
        "onboarding.refused_dm": {
            "zh-CN": "你没有同意群规，入群申请已被拒绝。",
            "en": "You did not accept the group rules, so your join request was declined.",
        },
        "onboarding.done_dm": {
            "zh-CN": "✅ 谢谢！问答已完成，欢迎加入「{group}」。",
            "en": "✅ Thank you! You are through; welcome to \"{group}\".",
        },
        "onboarding.cannot_remove": {
            "zh-CN": "⚠️ {name} 未在时限内完成入群问答，但 {platform} 平台不允许机器人移除成员，请管理员手动处理。",
            "en": "⚠️ {name} did not finish the entry questions in time, but {platform} does not let the bot remove members; "
            "please remove them by hand.",
        },
        "onboarding.warn.no_restrict": {
            "zh-CN": "ℹ️ {platform} 平台不支持禁言，新成员在回答完问题前发的消息会被删除。",
            "en": "ℹ️ {platform} cannot mute members; newcomers' messages are deleted until they have answered.",
        },
        "onboarding.warn.no_restrict_no_delete": {
            "zh-CN": "⚠️ {platform} 平台既不能禁言也不能删消息，新成员在回答完问题前仍可以发言。",
            "en": "⚠️ {platform} can neither mute members nor delete their messages; newcomers can post before they have answered.",
        },
        "onboarding.warn.no_rights": {
            "zh-CN": "⚠️ 我缺少管理员权限「{right}」，无法{action}新成员。请在群设置里给机器人这项权限。",
            "en": "⚠️ I lack the admin right \"{right}\" and cannot {action} newcomers. Please grant it to the bot in the group settings.",
        },
        "onboarding.warn.cannot_ask": {
            "zh-CN": "⚠️ 无法在群里发送入群问题（{detail}），已直接放行 {mention}。",
            "en": "⚠️ I could not post the entry questions in the group ({detail}), so {mention} was let in without them.",
        },
        "onboarding.action.restrict": {"zh-CN": "禁言", "en": "mute"},
        "onboarding.action.remove": {"zh-CN": "移除", "en": "remove"},
        "onboarding.raid_on_admins": {
            "zh-CN": "🚨 「{group}」在 {seconds} 秒内有 {joins} 人加入，已开启严格模式：所有新成员都须完成问答。",
            "en": "🚨 {joins} people joined \"{group}\" within {seconds} seconds; strict mode is on: every newcomer must answer the questions.",
        },
        "onboarding.raid_on_group": {
            "zh-CN": "🚨 短时间内大量新成员加入，已开启严格模式：所有新成员须完成入群问答后才能发言。",
            "en": "🚨 Many people joined at once; strict mode is on: every newcomer must answer the entry questions before posting.",
        },
        "onboarding.raid_off_admins": {
            "zh-CN": "✅ 「{group}」已恢复平静，严格模式已关闭（高峰时 {seconds} 秒内 {peak} 人加入）。",
            "en": "✅ \"{group}\" has calmed down; strict mode is off (peak: {peak} joins within {seconds} seconds).",
        },
        "onboarding.usage": {
            "zh-CN": "用法：/{command} @成员（或回复该成员的消息）",
            "en": "Usage: /{command} @member (or reply to one of their messages)",
        },
        "onboarding.unknown_member": {"zh-CN": "找不到成员「{who}」。", "en": "No member \"{who}\" in this group."},
        "onboarding.not_pending": {"zh-CN": "{name} 没有待完成的入群问答。", "en": "{name} has no questionnaire waiting."},
        "onboarding.no_questions": {
            "zh-CN": "本群没有设置入群问题（onboarding.questions）。",
            "en": "This group has no entry questions (onboarding.questions).",
        },
        "onboarding.skipped_by_admin": {"zh-CN": "✅ 管理员已放行 {mention}。", "en": "✅ An admin let {mention} in."},
        "onboarding.asked_again": {"zh-CN": "已让 {name} 重新回答入群问题。", "en": "{name} is being asked the entry questions again."},
        "onboarding.profile_title": {"zh-CN": "👤 {name} 的入群资料", "en": "👤 {name}: entry answers"},
        "onboarding.profile_status": {"zh-CN": "状态：{status}", "en": "Status: {status}"},
        "onboarding.profile_tags": {"zh-CN": "标签：{tags}", "en": "Tags: {tags}"},
        "onboarding.profile_none": {"zh-CN": "（无）", "en": "(none)"},
        "onboarding.profile_sent": {"zh-CN": "已私信发给你。", "en": "Sent to you by direct message."},
        "onboarding.status.pending": {"zh-CN": "答题中（第 {step}/{total} 题，截止 {deadline}）", "en": "answering (question {step}/{total}, due {deadline})"},
        "onboarding.status.done": {"zh-CN": "已完成", "en": "finished"},
        "onboarding.status.skipped": {"zh-CN": "管理员放行", "en": "let in by an admin"},
        "onboarding.status.removed": {"zh-CN": "超时被移出", "en": "removed after the timeout"},
        "onboarding.status.declined": {"zh-CN": "入群申请已拒绝", "en": "join request declined"},
        "onboarding.status.refused": {"zh-CN": "不同意群规", "en": "did not accept the rules"},
        "onboarding.status.left": {"zh-CN": "答题中途退群", "en": "left before finishing"},
        "onboarding.status.approved": {"zh-CN": "申请已通过，入群后答题", "en": "request approved; answers after joining"},
        "onboarding.status.none": {"zh-CN": "未答题", "en": "no questionnaire"},
    }
)
