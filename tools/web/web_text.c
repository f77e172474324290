/* SPDX-License-Identifier: MIT */
/* web_text: choosing the page language, and the Chinese of firegw-web's page text. */
#include "web_text.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *en, *zh;
} web_text_zh[] = {
    {"Overview", "概览"},
    {"Devices", "设备"},
    {"Hazards", "隐患"},
    {"Hazard", "隐患"},
    {"Config", "配置"},
    {"Log out", "退出"},
    {"Log in", "登录"},
    {"User", "用户名"},
    {"Password", "密码"},
    {"Wrong user name or password.", "用户名或密码错误。"},
    {"Too many failed logins from your address; try again in a few minutes.",
     "您的地址登录失败次数过多，请几分钟后重试。"},
    {"No password is set yet. On the gateway, run as root: firegw-web passwd admin",
     "尚未设置密码。请在网关上以 root 身份运行：firegw-web passwd admin"},
    {"Your session has expired or the form is stale; please try again.",
     "会话已过期或表单已失效，请重试。"},
    {"firegw cannot be reached", "无法连接 firegw"},
    {"Gateway", "网关"},
    {"Version", "版本"},
    {"Up for", "运行时长"},
    {"online", "在线"},
    {"offline", "离线"},
    {"not yet heard", "尚未收到"},
    {"Open hazards", "未关闭隐患"},
    {"immediate", "立查立改"},
    {"major", "重大"},
    {"significant", "较大"},
    {"general", "一般"},
    {"Outbox", "待发送"},
    {"alarm lane", "报警通道"},
    {"telemetry lane", "遥测通道"},
    {"oldest unsent", "最早未发送"},
    {"Platforms", "平台"},
    {"No platform: events wait in the outbox.", "未配置平台：事件在待发送队列中等待。"},
    {"Name", "名称"},
    {"Address", "地址"},
    {"State", "状态"},
    {"Last upload", "上次上传"},
    {"Waiting", "等待"},
    {"off (its token or password file is missing)", "关闭（缺少令牌或密码文件）"},
    {"connected", "已连接"},
    {"failing", "失败中"},
    {"Disk free", "可用磁盘"},
    {"Ledger", "台账"},
    {"recording", "记录正常"},
    {"NOT RECORDING", "无法记录"},
    {"events", "事件"},
    {"dead letters", "死信"},
    {"Device", "设备"},
    {"Type", "类型"},
    {"Where", "位置"},
    {"Location", "安装位置"},
    {"Last poll", "最近采集"},
    {"Values", "读数"},
    {"Refreshed at", "刷新于"},
    {"Status", "状态"},
    {"Grade", "等级"},
    {"Kind", "类型"},
    {"First seen", "首次发现"},
    {"Flags", "标记"},
    {"all", "全部"},
    {"open (not closed)", "未关闭"},
    {"Filter", "筛选"},
    {"No hazards.", "没有隐患。"},
    {"History", "历史"},
    {"Event", "事件"},
    {"At", "时间"},
    {"Delivery", "投递"},
    {"Config file", "配置文件"},
    {"Check result", "检查结果"},
    {"No config file was given to firegw-web (--config).",
     "未为 firegw-web 指定配置文件（--config）。"},
    {"The config is changed on the gateway (firegw check, then systemctl reload firegw); "
     "this page does not apply a new one.",
     "配置在网关上修改（firegw check，然后 systemctl reload firegw）；本页面不应用新配置。"},
    {"Page not found.", "页面不存在。"},
    /* The ledger's statuses and hazard kinds, as the hazard list shows them (the codes stay
     * in the item's own page, as the platform sees them). */
    {"open", "待处理"},
    {"acknowledged", "已确认"},
    {"rectifying", "整改中"},
    {"pending_acceptance", "待验收"},
    {"closed", "已关闭"},
    {"fire_alarm", "火警"},
    {"residual_current", "剩余电流超限"},
    {"overtemperature", "温度超限"},
    {"arc_fault", "故障电弧"},
    {"overcurrent", "过流"},
    {"overvoltage", "过压"},
    {"undervoltage", "欠压"},
    {"sensor_fault", "传感器故障"},
    {"device_offline", "设备离线"},
    {"low_battery", "电池电量低"},
    {"tamper", "防拆报警"},
    {"device_fault", "设备故障"},
    {"ledger_corrupt", "台账损坏"},
    {"Test alarm", "测试报警"},
    {"Commissioning", "调试"},
    {"units asked", "个地址已询问"},
    {"found", "个有应答"},
    {"Cancel the scan", "中止扫描"},
    {"Unit", "地址"},
    {"Profiles that fit", "符合的 profile"},
    {"Config blocks to copy", "可复制的配置段"},
    {"Add them to the configuration, fill in each location, check it and reload.",
     "加入配置文件，填好每台设备的位置，检查配置后重载。"},
    {"No answer", "无应答"},
    {"Point", "点"},
    {"Value", "数值"},
    {"Status bits", "状态位"},
    {"Scan of bus", "扫描总线"},
    {"Probe of device", "读设备"},
    {"running", "进行中"},
    {"done", "完成"},
    {"cancelled", "已中止"},
    {"failed", "失败"},
    {"Scan a bus", "扫描总线"},
    {"Asks each unit id in turn, between the regular polls: the other devices go on being read. A silent unit takes its timeout.",
     "在正常轮询之间逐个询问地址，其他设备照常读数。无应答的地址要等满超时时间。"},
    {"Bus", "总线"},
    {"Unit ids", "地址范围"},
    {"Timeout (ms)", "超时（毫秒）"},
    {"Scan", "扫描"},
    {"Probe a device", "读一台设备"},
    {"Reads every point of a configured device once, between its bus's polls.",
     "在所在总线的两次轮询之间，把一台已配置设备的每个点读一次。"},
    {"Probe", "读取"},
    {"A test fire alarm on the device, recorded, sent to the platform and closed; "
     "each step is shown as it happens. It never counts as a real alarm.",
     "在该设备上产生一次测试火警：记录、发送到平台并关闭，每一步实时显示。测试报警不计为真实报警。"},
    {"Send a test alarm", "发送测试报警"},
    {"The request is too large.", "请求过大。"},
    {"Method not allowed.", "不允许的请求方法。"},
    {"Open this console at 127.0.0.1 or localhost.", "请通过 127.0.0.1 或 localhost 打开本控制台。"},
};

const char *web_text(enum web_lang lang, const char *en)
{
	if (lang != WEB_LANG_ZH)
		return en;
	for (size_t i = 0; i < sizeof(web_text_zh) / sizeof(web_text_zh[0]); i++)
		if (strcmp(web_text_zh[i].en, en) == 0)
			return web_text_zh[i].zh;
	return en;
}

const char *web_text_code(enum web_lang lang)
{
	return lang == WEB_LANG_EN ? "en" : "zh-CN";
}

static int web_text_named(const char *s)
{
	if (!s)
		return -1;
	if (strncasecmp(s, "en", 2) == 0)
		return WEB_LANG_EN;
	if (strncasecmp(s, "zh", 2) == 0)
		return WEB_LANG_ZH;
	return -1;
}

enum web_lang web_text_lang(const char *query, const char *cookie, const char *accept)
{
	int l;

	if ((l = web_text_named(query)) >= 0 || (l = web_text_named(cookie)) >= 0)
		return (enum web_lang)l;
	/* Accept-Language: the first of zh or en the browser lists (browsers list them in their
	 * order of preference). */
	for (const char *p = accept; p && *p;) {
		p += strspn(p, " ,");
		if ((l = web_text_named(p)) >= 0)
			return (enum web_lang)l;
		p = strchr(p, ',');
	}
	return WEB_LANG_ZH;
}
