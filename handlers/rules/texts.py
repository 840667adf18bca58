"""Every user-visible text of the rules feature, in zh-CN and en."""

from __future__ import annotations

from bot.i18n import register

CATEGORY_TEXTS = {
    "link": ("禁止发链接", "no links"),
    "invite": ("禁止拉人进其他群（私拉小群）", "no invitations to other groups"),
    "miniprogram": ("禁止发小程序、小游戏、拼多多砍价链接", "no mini-program, game or bargain links"),
    "contact": ("禁止私加好友、留联系方式（加V/QQ/电话）", "no contact solicitation (WeChat/QQ/phone)"),
    "qr": ("禁止发二维码引流", "no QR codes to outside links or contacts"),
    "ads": ("禁止发广告", "no ads"),
    "fraud": ("禁止发跑分、洗钱、刷单类广告", "no money-laundering or cash-out ads"),
    "gambling": ("禁止发赌博内容", "no gambling"),
    "porn": ("禁止发色情内容", "no porn"),
    "violence": ("禁止发暴力、涉枪涉爆内容", "no violence or weapons"),
    "politics": ("禁止发政治敏感内容", "no politics"),
    "sensitive": ("禁止发敏感内容", "no sensitive content"),
    "insult": ("禁止辱骂他人", "no insults"),
    "custom": ("违反本群自定义规则", "a rule of this group"),
    "flood": ("禁止刷屏", "no flooding"),
    "repeat": ("禁止重复发送相同内容", "no repeated messages"),
    "admin": ("管理员处理", "admin decision"),
}

register({f"rules.cat.{k}": {"zh-CN": zh, "en": en} for k, (zh, en) in CATEGORY_TEXTS.items()})

# Removals the audit log names with a rule that is not a category of the rules feature.
OTHER_RULE_TEXTS = {
    "onboarding": ("入群问卷", "entry questionnaire"),
    "onboarding_timeout": ("未按时完成入群问卷", "entry questionnaire not finished in time"),
    "onboarding_refused": ("不同意群规", "did not accept the group rules"),
}
register({f"rules.other.{k}": {"zh-CN": zh, "en": en} for k, (zh, en) in OTHER_RULE_TEXTS.items()})

# The rule ids of the engine's hits (handlers/rules/engine.py) that do not name their category;
# "words:X", "phrase:X" and "qr_…" do. Old counters used a few plural keys.
RULE_CATEGORIES = {
    "invisible_chars": "ads", "miniprogram_card": "miniprogram", "contact_card": "contact",
    "custom_word": "custom", "custom_regex": "custom", "model": "ads", "wave": "ads", "combination": "ads",
    "rare_hanzi": "ads", "ad_shape": "ads", "interleaved": "ads", "repeated_phrase": "ads", "text_wall": "flood",
    "blocked_domain": "link", "shortlink": "link", "bad_domain": "link", "miniprogram_link": "miniprogram",
    "phone": "contact", "email": "contact", "handle": "contact", "contact_cue": "contact", "id_like": "contact",
    "add_id": "contact", "look_at_name": "contact", "styled_id": "contact", "disguise": "ads",
    "links": "link", "invites": "invite", "contacts": "contact",
}


def rule_category(rule: str, details: dict | None = None) -> str | None:
    """The category of a rule id as the audit log and the counters store it ("contact",
    "words:ads", "qr_phone", "short_message" …), or None for an id that is none of the rules'."""
    rule = (rule or "").strip()
    if not rule:
        return None
    if details:
        if isinstance(details.get("category"), str):
            return details["category"]
        for hit in details.get("hits") or ():
            if isinstance(hit, dict) and hit.get("rule") == rule and isinstance(hit.get("category"), str):
                return hit["category"]
    if rule in CATEGORY_TEXTS:
        return rule
    if rule in RULE_CATEGORIES:
        return RULE_CATEGORIES[rule]
    prefix, _, rest = rule.partition(":")
    if rest and prefix in ("words", "phrase") and rest in CATEGORY_TEXTS:
        return rest
    if rule.startswith("qr_"):
        return "qr"
    return None


def rule_name(lang: str, rule: str, details: dict | None = None) -> str:
    """What a group is shown for a rule id or category: the rule's text (rules.cat.*) in `lang`;
    an id the rules do not know is shown as it is."""
    from bot.i18n import t

    category = rule_category(rule, details)
    if category in CATEGORY_TEXTS:
        return t(lang, f"rules.cat.{category}")
    if rule in OTHER_RULE_TEXTS:
        return t(lang, f"rules.other.{rule}")
    return rule

register(
    {
        "rules.penalty.warn": {"zh-CN": "删除消息并警告", "en": "message deleted, warning"},
        "rules.penalty.warn_only": {"zh-CN": "警告", "en": "warning"},
        "rules.penalty.delete": {"zh-CN": "删除消息", "en": "message deleted"},
        "rules.penalty.mute": {"zh-CN": "禁言 {duration}", "en": "muted for {duration}"},
        "rules.penalty.kick": {"zh-CN": "移出本群", "en": "removed from the group"},
        "rules.penalty.ban": {"zh-CN": "永久移出本群", "en": "banned from the group"},
        "rules.penalty.kick_requested": {
            "zh-CN": "已请群主/管理员将其移出本群",
            "en": "the owner/admins have been asked to remove them",
        },
        "rules.penalty.report": {"zh-CN": "已报告管理员", "en": "reported to the admins"},
        "rules.notice": {
            "zh-CN": "⚠️ {member} 违反群规「{rule}」，处罚：{penalty}{reason}。请大家遵守群规。",
            "en": "⚠️ {member} broke the rule \"{rule}\"; penalty: {penalty}{reason}. Please keep to the group rules.",
        },
        "rules.admin_notice.mute": {
            "zh-CN": "👮 {member} 已被管理员禁言 {duration}{reason}。",
            "en": "👮 {member} was muted for {duration} by an admin{reason}.",
        },
        "rules.admin_notice.kick": {
            "zh-CN": "👮 {member} 已被管理员移出本群{reason}，可以重新加入。",
            "en": "👮 {member} was removed by an admin{reason}; they may rejoin.",
        },
        "rules.admin_notice.ban": {
            "zh-CN": "👮 {member} 已被管理员永久移出本群{reason}。",
            "en": "👮 {member} was banned by an admin{reason}.",
        },
        "rules.admin_notice.kick_requested": {
            "zh-CN": "👮 管理员决定将 {member} 移出本群{reason}；机器人在本平台不能踢人，已请群主/管理员手动移出。",
            "en": "👮 An admin decided to remove {member}{reason}; the bot cannot remove members here, so the owner/admins were asked to.",
        },
        "rules.admin_notice.other": {
            "zh-CN": "👮 管理员对 {member} 的处理：{penalty}{reason}。",
            "en": "👮 An admin's decision on {member}: {penalty}{reason}.",
        },
        "rules.notice_strikes": {
            "zh-CN": "（{window} 天内第 {count} 次，下次：{next}）",
            "en": " (strike {count} in {window} days; next: {next})",
        },
        "rules.flagged": {
            "zh-CN": "🚩 {member} 的消息 #{message_id} 可能违反群规「{rule}」，请查看。证据：{evidence}",
            "en": "🚩 Message #{message_id} of {member} may break the rule \"{rule}\"; please have a look. Evidence: {evidence}",
        },
        "rules.template_failed": {
            "zh-CN": "群规通知模板出错（{error}），已改用默认文字。请检查 rules.notice_template。",
            "en": "The rules notice template failed ({error}); the built-in text was used. Check rules.notice_template.",
        },
        "rules.fallback": {
            "zh-CN": "{platform} 平台无法「{wanted}」（缺少 {capability} 能力），已改为：{done}。成员：{member}，规则：{rule}，证据：{evidence}",
            "en": "{platform} cannot \"{wanted}\" (lacks {capability}); did this instead: {done}. Member: {member}, rule: {rule}, evidence: {evidence}",
        },
        "rules.please_remove": {
            "zh-CN": "请将 {member} 移出本群（本平台不允许机器人踢人）。违反：{rule}。证据：{evidence}。记录编号 #{audit_id}",
            "en": "Please remove {member} from the group (the bot cannot remove members on this platform). Rule: {rule}. Evidence: {evidence}. Audit #{audit_id}",
        },
        "rules.please_delete": {
            "zh-CN": "请删除 {member} 的消息 #{message_id}（机器人无法删除）。违反：{rule}。",
            "en": "Please delete message #{message_id} of {member} (the bot cannot delete it). Rule: {rule}.",
        },
        "rules.action_failed": {
            "zh-CN": "无法对 {member} 执行「{action}」：{reason}。请给机器人 {right} 权限。",
            "en": "Could not {action} {member}: {reason}. Please give the bot the right {right}.",
        },
        "rules.usage_target": {
            "zh-CN": "请回复要处理的成员的消息，或写出成员：/{command} @用户名 {extra}",
            "en": "Reply to the member's message or name them: /{command} @username {extra}",
        },
        "rules.unknown_member": {"zh-CN": "找不到成员 {name}。", "en": "No member {name} in this group."},
        "rules.not_admin_target": {"zh-CN": "不能处罚管理员 {member}。", "en": "Admins cannot be penalised ({member})."},
        "rules.bad_duration": {
            "zh-CN": "时长「{value}」无效，请用 30m、1h、1d、7d 这样的写法。",
            "en": "\"{value}\" is not a duration; use 30m, 1h, 1d, 7d.",
        },
        "rules.unwarned": {"zh-CN": "已撤销 {member} 最近的一次警告（剩余 {count} 次）。", "en": "Removed the latest strike of {member} ({count} left)."},
        "rules.no_strikes": {"zh-CN": "{member} 没有有效的违规记录。", "en": "{member} has no active strikes."},
        "rules.pardoned": {"zh-CN": "已清除 {member} 的 {count} 次违规记录。", "en": "Cleared {count} strikes of {member}."},
        "rules.unmuted": {"zh-CN": "🔈 {member} 已解除禁言。", "en": "🔈 {member} may post again."},
        "rules.unbanned": {"zh-CN": "✅ {member} 已解封，可以重新加入。", "en": "✅ {member} is unbanned and may join again."},
        "rules.reason": {"zh-CN": "，原因：{reason}", "en": ", reason: {reason}"},
        "rules.cannot": {
            "zh-CN": "本平台不支持「{action}」，已通知管理员手动处理。",
            "en": "This platform cannot {action}; the admins have been asked to do it by hand.",
        },
        "rules.default_text": {
            "zh-CN": "本群群规：\n1. 禁止广告、链接、小程序/小游戏/拼多多砍价链接、短链接\n2. 禁止私加好友、留联系方式（加V、QQ、电话、二维码）\n3. 禁止拉人进其他群\n4. 禁止色情、赌博、暴力、政治内容\n5. 禁止辱骂他人、刷屏\n处罚：删除并警告 → 禁言 1 天 → 7 天 → 15 天 → 移出本群",
            "en": "Group rules:\n1. No ads, links, mini-program/game/bargain links or short links\n2. No contact solicitation (WeChat, QQ, phone numbers, QR codes)\n3. No invitations to other groups\n4. No porn, gambling, violence or politics\n5. No insults, no flooding\nPenalties: delete + warning → mute 1 day → 7 days → 15 days → removal",
        },
        "rules.setrules_usage": {"zh-CN": "用法：/setrules 群规全文", "en": "Usage: /setrules THE RULES TEXT"},
        "rules.setrules_done": {"zh-CN": "群规已更新，/rules 可查看。", "en": "Rules updated; /rules shows them."},
        "rules.allow_usage": {
            "zh-CN": "用法：/allow 域名|词语|@成员（回复某人的消息则放行该成员）",
            "en": "Usage: /allow DOMAIN|WORD|@member (or reply to a member to exempt them)",
        },
        "rules.block_usage": {"zh-CN": "用法：/block 域名|词语", "en": "Usage: /block DOMAIN|WORD"},
        "rules.allowed_domain": {"zh-CN": "已允许域名 {value}。", "en": "Links to {value} are allowed now."},
        "rules.allowed_word": {"zh-CN": "词语「{value}」不再算违规证据。", "en": "\"{value}\" no longer counts as evidence."},
        "rules.allowed_member": {"zh-CN": "{member} 已加入白名单，不受群规检查。", "en": "{member} is allowlisted; the rules no longer judge them."},
        "rules.blocked_domain": {"zh-CN": "已禁止域名 {value}。", "en": "Links to {value} are blocked now."},
        "rules.blocked_word": {"zh-CN": "已添加违禁词「{value}」。", "en": "\"{value}\" is a forbidden word now."},
        "rules.report_usage": {"zh-CN": "请回复要举报的消息再发送 /report。", "en": "Reply to the message you report with /report."},
        "rules.report_thanks": {"zh-CN": "谢谢，已通知管理员。", "en": "Thank you; the admins have been told."},
        "rules.report_alert": {
            "zh-CN": "🚩 {reporter} 在「{group}」举报了 {member} 的消息 #{message_id}{link}：{text}",
            "en": "🚩 {reporter} reported message #{message_id}{link} of {member} in \"{group}\": {text}",
        },
        "rules.undo_usage": {"zh-CN": "用法：/undo 记录编号（/modlog 可查看）", "en": "Usage: /undo AUDIT_ID (see /modlog)"},
        "rules.undo_missing": {"zh-CN": "找不到记录 #{audit_id}。", "en": "No audit entry #{audit_id} in this group."},
        "rules.undo_already": {"zh-CN": "记录 #{audit_id} 已撤销过。", "en": "Audit entry #{audit_id} was already undone."},
        "rules.may_rejoin": {
            "zh-CN": "{member} 可以重新加入本群了。",
            "en": " {member} may rejoin the group.",
        },
        "rules.usage_reason": {"zh-CN": "[原因]", "en": "[reason]"},
        "rules.usage_mute": {"zh-CN": "时长（如 1d） [原因]", "en": "DURATION (e.g. 1d) [reason]"},
        "rules.modlog_line": {
            "zh-CN": "#{id} {at} {action} {target}{rule}，处理人 {actor}{undone}",
            "en": "#{id} {at} {action} {target}{rule} by {actor}{undone}",
        },
        "rules.undo_done": {"zh-CN": "已撤销 #{audit_id}（{action} {member}）。", "en": "Undid #{audit_id} ({action} {member})."},
        "rules.modlog_empty": {"zh-CN": "暂无处理记录。", "en": "No moderation entries yet."},
        "rules.modlog_header": {"zh-CN": "最近的处理记录（/undo 编号 可撤销）：", "en": "Recent moderation (undo with /undo ID):"},
        "rules.points_reason": {"zh-CN": "违反群规：{rule}", "en": "broke the rule: {rule}"},
        # The model, the admins' labels, waves and display names (handlers/rules/learning.py).
        "rules.notice_automatic": {
            "zh-CN": "（系统自动判断，管理员会复核；如有误请联系管理员）",
            "en": " (an automatic decision; the admins will review it — ask them if it was a mistake)",
        },
        "rules.model_unavailable": {
            "zh-CN": "无法加载垃圾消息模型（rules.model = {path}）：{error}。在修复之前只按规则判断。",
            "en": "Cannot load the spam model (rules.model = {path}): {error}. Judging by the rules alone until it is fixed.",
        },
        "rules.wave_evidence": {
            "zh-CN": "与另一群刚处理的消息相似（{similarity}%，{rule}）",
            "en": "like a message just removed in another group ({similarity}%, {rule})",
        },
        "rules.model_evidence": {"zh-CN": "模型判断为垃圾消息（概率 {p}%）", "en": "the model says spam (probability {p}%)"},
        "rules.spam_usage": {
            "zh-CN": "用法：回复一条消息发送 /spam（删除、按阶梯处罚并学习为垃圾消息），或 /spam 编号 确认一条待复核的处理。",
            "en": "Usage: reply to a message with /spam (delete it, punish on the ladder, learn it as spam), or /spam ID to confirm a decision under review.",
        },
        "rules.spam_learned": {
            "zh-CN": "已记为垃圾消息并学习（#{audit_id}）；其他群出现相似消息也会被拦截。",
            "en": "Marked as spam and learned (#{audit_id}); similar messages in the other groups are caught too.",
        },
        "rules.spam_no_text": {
            "zh-CN": "已处理（#{audit_id}），但看不到那条消息的文字，无法学习。",
            "en": "Done (#{audit_id}), but the message's text is not visible to the bot, so nothing was learned.",
        },
        "rules.spam_confirmed": {"zh-CN": "已确认 #{audit_id} 为垃圾消息。", "en": "Confirmed #{audit_id} as spam."},
        "rules.spam_missing": {"zh-CN": "找不到可确认的处理记录 #{audit_id}。", "en": "No decision #{audit_id} to confirm."},
        "rules.learned_ham": {"zh-CN": "（已记为误判，模型会从中学习）", "en": " (noted as a mistake; the model learns from it)"},
        "rules.review_empty": {"zh-CN": "没有待复核的自动处理。", "en": "No automatic decisions to review."},
        "rules.review_header": {
            "zh-CN": "待复核的自动处理（/spam 编号 确认，/undo 编号 撤销并记为误判）：",
            "en": "Automatic decisions to review (confirm with /spam ID, revert with /undo ID — it is learned as a mistake):",
        },
        "rules.review_line": {"zh-CN": "#{id} {at} {action} {target}：{evidence}", "en": "#{id} {at} {action} {target}: {evidence}"},
        "rules.label_usage": {
            "zh-CN": "用法：/label 编号 spam|ham（spam：确实是垃圾消息；ham：误判）。编号见 /modlog 或 /review。",
            "en": "Usage: /label ID spam|ham (spam: it was spam; ham: a mistake). IDs are in /modlog and /review.",
        },
        "rules.label_missing": {"zh-CN": "本群没有处理记录 #{audit_id}。", "en": "#{audit_id} is not a decision of this group."},
        "rules.label_no_sample": {
            "zh-CN": "#{audit_id} 没有保存可供学习的消息样本，无法标记。",
            "en": "#{audit_id} has no stored sample to learn from, so it cannot be labelled.",
        },
        "rules.labelled_spam": {
            "zh-CN": "#{audit_id} 已标记为垃圾消息，模型会在下次训练时学习。",
            "en": "#{audit_id} marked as spam; the model learns it at the next retrain.",
        },
        "rules.labelled_ham": {
            "zh-CN": "#{audit_id} 已标记为误判（不是垃圾消息），模型会在下次训练时学习；与它相似的消息不再被当作同一波广告拦截。",
            "en": "#{audit_id} marked as not spam; the model learns it at the next retrain, and its near-duplicates are no longer caught as a wave.",
        },
        "rules.display_name_reason": {"zh-CN": "昵称含广告或联系方式", "en": "display name carries an ad or a contact"},
        "rules.display_name_strict": {
            "zh-CN": "新成员 {member} 的昵称含广告或联系方式（{evidence}），已按严格模式验证。",
            "en": "Newcomer {member} has an ad or a contact in their display name ({evidence}); they are questioned strictly.",
        },
    }
)

# What an audit entry's action is called in the group's language (/undo, /modlog).
ACTION_NAMES = {
    "warn": ("警告", "warning"), "delete": ("删除消息", "deletion"), "mute": ("禁言", "mute"),
    "unmute": ("解除禁言", "unmute"), "kick": ("移出", "removal"), "ban": ("封禁", "ban"), "unban": ("解封", "unban"),
    "kick_requested": ("请管理员移出", "removal asked of the admins"), "report": ("报告管理员", "report"),
    "unwarn": ("撤销警告", "strike removed"), "pardon": ("赦免", "pardon"), "undo": ("撤销", "undo"),
    "setrules": ("设置群规", "rules set"), "allow_member": ("放行成员", "member allowed"),
    "allow_domain": ("放行域名", "domain allowed"), "allow_word": ("放行词语", "word allowed"),
    "block_domain": ("屏蔽域名", "domain blocked"), "block_word": ("屏蔽词语", "word blocked"),
    "label": ("标记样本", "labelled"),
}
register({f"rules.action.{k}": {"zh-CN": zh, "en": en} for k, (zh, en) in ACTION_NAMES.items()})

COMMAND_DESCRIPTIONS = {
    "warn": {"zh-CN": "警告成员（回复消息或 @成员）", "en": "warn a member (reply or @name)"},
    "unwarn": {"zh-CN": "撤销成员最近一次警告", "en": "remove a member's latest strike"},
    "mute": {"zh-CN": "禁言：/mute 时长（如 1d）", "en": "mute: /mute DURATION (e.g. 1d)"},
    "unmute": {"zh-CN": "解除禁言", "en": "lift a mute"},
    "kick": {"zh-CN": "移出成员（可再加入）", "en": "remove a member (may rejoin)"},
    "ban": {"zh-CN": "永久移出成员", "en": "ban a member"},
    "unban": {"zh-CN": "解封成员", "en": "unban a member"},
    "pardon": {"zh-CN": "清除成员的违规记录", "en": "reset a member's penalty ladder"},
    "rules": {"zh-CN": "查看群规", "en": "show the group rules"},
    "setrules": {"zh-CN": "设置群规", "en": "set the group rules"},
    "allow": {"zh-CN": "放行域名/词语/成员", "en": "allow a domain, word or member"},
    "block": {"zh-CN": "禁止域名/词语", "en": "block a domain or word"},
    "report": {"zh-CN": "举报消息（回复该消息）", "en": "report a message (reply to it)"},
    "undo": {"zh-CN": "撤销一条处理记录", "en": "undo a moderation entry"},
    "modlog": {"zh-CN": "查看最近的处理记录", "en": "recent moderation entries"},
    "spam": {"zh-CN": "回复消息：删除、处罚并学习为垃圾消息", "en": "reply to a message: delete, punish, learn it as spam"},
    "review": {"zh-CN": "待复核的自动处理", "en": "automatic decisions to review"},
    "label": {"zh-CN": "标记一条处理：/label 编号 spam|ham（供模型学习）", "en": "label a decision: /label ID spam|ham (for the model)"},
}
