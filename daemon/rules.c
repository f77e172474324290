/* SPDX-License-Identifier: MIT */
/* rules: thresholds, hold, hysteresis, status bits, offline, escalation. */
#include "rules.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "hazard.h"
#include "i18n.h"
#include "log.h"

#define OFFLINE_POINT "online"

/* One condition at one place: an analog point's rule, a channel's status bits, offline. */
struct cond {
	char channel[HAZARD_NAME_LEN];
	enum kind kind;
	enum level cur;       /* level raised now, LEVEL_NONE when not active */
	enum level cand;      /* level waiting for its hold time */
	int64_t cand_since;   /* mono ms, 0 = no candidate */
	int64_t clear_since;  /* mono ms, 0 = not below the clear level */
	int64_t active_since; /* mono ms the condition became active */
	bool escalated;
	bool test;
	bool below; /* low-limit rule: lower is worse */
	double last;
	double peak;
	double threshold;
	char hazard_id[HAZARD_ID_LEN];
};

struct dstate {
	const struct device_conf *dc;
	struct cond *conds;
	size_t nconds, cap;
	int failures;
	int64_t last_heard; /* mono ms */
	bool offline;
	double *last; /* latest value of each profile point, NAN before the first */
	json_t *info; /* site, location, device, people: copied into each new item */
};

struct rules {
	const struct conf *conf;
	struct ledger *ledger;
	struct dstate *devs;
	size_t ndevs;
	struct dstate **byid; /* devs sorted by id: each reading finds its device by bsearch */
	struct rules_stats stats;
	int64_t last_overdue_check;
};

static json_t *rules_device_info(const struct conf *c, const struct device_conf *d)
{
	const struct site_conf *s = &c->site;

	return json_pack("{s:{s:s, s:s, s:s, s:s, s:s}, s:s, s:{s:s, s:s, s:s?, s:i, s:s?, s:s?},"
	                 " s:{s:s, s:s}, s:{s:s, s:s}}",
	                 "site", "county", s->county, "town", s->town, "village", s->village,
	                 "unit", s->unit, "address", s->address, "location", d->location, "device",
	                 "id", d->id, "model",
	                 d->model[0] ? d->model : (d->prof ? d->prof->model : ""), "bus", d->bus,
	                 "address", d->unit, "key", d->key, "profile", d->profile, "responsible",
	                 "name", s->responsible, "phone", s->responsible_phone, "acceptor", "name",
	                 s->acceptor, "phone", s->acceptor_phone);
}

static int rules_dev_cmp(const void *x, const void *y)
{
	const struct dstate *const *a = x, *const *b = y;

	return strcmp((*a)->dc->id, (*b)->dc->id);
}

static int rules_dev_key_cmp(const void *key, const void *y)
{
	const struct dstate *const *b = y;

	return strcmp(key, (*b)->dc->id);
}

struct rules *rules_new(const struct conf *c, struct ledger *l)
{
	struct rules *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->conf = c;
	r->ledger = l;
	r->ndevs = c->ndevices;
	r->devs = calloc(r->ndevs ? r->ndevs : 1, sizeof(*r->devs));
	if (!r->devs) {
		free(r);
		return NULL;
	}
	for (size_t i = 0; i < r->ndevs; i++) {
		r->devs[i].dc = &c->devices[i];
		size_t np = c->devices[i].prof ? c->devices[i].prof->npoints : 0;

		r->devs[i].last = malloc((np ? np : 1) * sizeof(double));
		if (!r->devs[i].last) {
			rules_free(r);
			return NULL;
		}
		for (size_t k = 0; k < np; k++)
			r->devs[i].last[k] = NAN;
		r->devs[i].info = rules_device_info(c, &c->devices[i]);
		if (!r->devs[i].info)
			r->devs[i].info = json_object();
	}
	r->byid = malloc((r->ndevs ? r->ndevs : 1) * sizeof(*r->byid));
	if (!r->byid) {
		rules_free(r);
		return NULL;
	}
	for (size_t i = 0; i < r->ndevs; i++)
		r->byid[i] = &r->devs[i];
	qsort(r->byid, r->ndevs, sizeof(*r->byid), rules_dev_cmp);
	return r;
}

void rules_free(struct rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->ndevs; i++) {
		free(r->devs[i].conds);
		free(r->devs[i].last);
		json_decref(r->devs[i].info);
	}
	free(r->devs);
	free(r->byid);
	free(r);
}

const struct rules_stats *rules_stats(const struct rules *r)
{
	return &r->stats;
}

/* Every reading looks its device up (two or three times on its way through the ingest and
 * the rules): a binary search, so a poll costs the same with 1,000 devices as with 10. */
static struct dstate *rules_dev(struct rules *r, const char *id)
{
	struct dstate **d = r->byid && r->ndevs
	                        ? bsearch(id, r->byid, r->ndevs, sizeof(*r->byid), rules_dev_key_cmp)
	                        : NULL;

	return d ? *d : NULL;
}

static struct cond *rules_cond(struct dstate *d, const char *channel, enum kind kind, bool create)
{
	for (size_t i = 0; i < d->nconds; i++)
		if (d->conds[i].kind == kind && strcmp(d->conds[i].channel, channel) == 0)
			return &d->conds[i];
	if (!create)
		return NULL;
	if (d->nconds == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		struct cond *c = realloc(d->conds, cap * sizeof(*c));

		if (!c)
			return NULL;
		d->conds = c;
		d->cap = cap;
	}
	struct cond *c = &d->conds[d->nconds++];
	memset(c, 0, sizeof(*c));
	snprintf(c->channel, sizeof(c->channel), "%s", channel);
	c->kind = kind;
	return c;
}

enum level rules_level(const struct rules *r, const char *device, const char *point, enum kind kind)
{
	struct dstate *d = rules_dev((struct rules *)r, device);
	struct cond *c = d ? rules_cond(d, point, kind, false) : NULL;

	return c ? c->cur : LEVEL_NONE;
}

/* Runs fn inside a transaction: the caller's, or one of its own. */
static int rules_tx_begin(struct rules *r, bool *own)
{
	*own = !ledger_in_transaction(r->ledger);
	return *own ? ledger_begin(r->ledger) : 0;
}

static int rules_tx_end(struct rules *r, bool own, int rc, int64_t mono, int64_t wall)
{
	if (!own)
		return rc;
	if (rc < 0) {
		ledger_rollback(r->ledger);
		rules_resync(r, mono, wall);
		return rc;
	}
	rc = ledger_commit(r->ledger);
	if (rc < 0)
		rules_resync(r, mono, wall);
	return rc;
}

static int rules_raise(struct rules *r, struct dstate *d, struct cond *c, enum level level,
                       double value, const char *unit, int64_t mono, int64_t wall)
{
	struct hazard_obs o = {
	    .device = d->dc->id,
	    .point = c->channel,
	    .kind = c->kind,
	    .level = level,
	    .value = value,
	    .threshold = c->threshold,
	    .unit = unit,
	    .test = c->test,
	    .wall_ms = wall,
	    .info = d->info,
	};
	struct hazard h;
	enum hazard_outcome out;
	int rc = hazard_observe(r->ledger, &r->conf->policy, &o, &h, &out);

	if (rc < 0)
		return rc;
	if (c->cur == LEVEL_NONE) {
		c->active_since = mono;
		c->escalated = hazard_escalation_done(&h);
	}
	c->cur = level;
	c->peak = h.peak;
	snprintf(c->hazard_id, sizeof(c->hazard_id), "%s", h.id);
	item_finish(&h);
	if (out == HAZARD_RAISED)
		r->stats.raised++;
	else if (out == HAZARD_RECURRED)
		r->stats.recurred++;
	else if (out == HAZARD_ESCALATED)
		r->stats.escalated++;
	return 0;
}

static int rules_clear(struct rules *r, struct dstate *d, struct cond *c, int64_t wall)
{
	enum hazard_outcome out;
	/* A commissioning test needs no rectification: it closes itself once cleared. */
	bool autoclose = c->test || (c->kind == KIND_DEVICE_OFFLINE && r->conf->policy.offline_autoclose);
	int rc = hazard_clear(r->ledger, d->dc->id, c->channel, c->kind, wall, autoclose, &out);

	if (rc < 0)
		return rc;
	c->cur = LEVEL_NONE;
	c->cand = LEVEL_NONE;
	c->cand_since = 0;
	c->clear_since = 0;
	c->escalated = false;
	if (out != HAZARD_NONE)
		r->stats.cleared++;
	return 0;
}

/* The level a value is at, by the rule's setpoints alone. */
static enum level rules_level_of(const struct setpoints *s, double v, double *threshold)
{
	const double sp[3] = {s->high, s->alarm, s->prealarm};
	const enum level lv[3] = {LEVEL_HIGH, LEVEL_ALARM, LEVEL_PREALARM};

	for (int i = 0; i < 3; i++) {
		if (isnan(sp[i]))
			continue;
		if (s->below ? v <= sp[i] : v >= sp[i]) {
			*threshold = sp[i];
			return lv[i];
		}
	}
	return LEVEL_NONE;
}

static bool rules_below_clear(const struct setpoints *s, double v)
{
	double clear = s->clear;

	if (isnan(clear)) {
		/* No hysteresis given: clear as soon as it is back past the nearest setpoint. */
		double t;

		return rules_level_of(s, v, &t) == LEVEL_NONE;
	}
	return s->below ? v > clear : v < clear;
}

static int rules_analog(struct rules *r, struct dstate *d, const struct point *pt,
                        const struct setpoints *s, double v, int64_t mono, int64_t wall)
{
	struct cond *c = rules_cond(d, pt->name, (enum kind)s->kind, true);
	double threshold = NAN;
	enum level l;

	if (!c)
		return -ENOMEM;
	c->last = v;
	c->below = s->below;
	/* A probe that is open or shorted reads nonsense: its value judges nothing. */
	struct cond *fault = rules_cond(d, pt->name, KIND_SENSOR_FAULT, false);
	if (fault && fault->cur != LEVEL_NONE) {
		c->cand = LEVEL_NONE;
		c->cand_since = 0;
		return 0;
	}
	l = rules_level_of(s, v, &threshold);

	if (c->cur != LEVEL_NONE) {
		/* Active: clears only past the clear level, held for clear_hold. */
		if (rules_below_clear(s, v)) {
			c->cand = LEVEL_NONE;
			c->cand_since = 0;
			if (c->clear_since == 0)
				c->clear_since = mono;
			if (mono - c->clear_since >= s->clear_hold_ms)
				return rules_clear(r, d, c, wall);
			return 0;
		}
		c->clear_since = 0;
		if (l <= c->cur) {
			c->cand = LEVEL_NONE;
			c->cand_since = 0;
			/* A new peak is written to the open item; other values are not. */
			bool peak = s->below ? v < c->peak : v > c->peak;
			return peak ? rules_raise(r, d, c, c->cur, v, pt->unit, mono, wall) : 0;
		}
	} else if (l == LEVEL_NONE) {
		c->cand = LEVEL_NONE;
		c->cand_since = 0;
		return 0;
	}
	/* A new or higher level must last its hold time. */
	if (c->cand_since == 0)
		c->cand_since = mono;
	c->cand = l;
	if (mono - c->cand_since < s->hold_ms)
		return 0;
	c->threshold = threshold;
	c->cand_since = 0;
	c->cand = LEVEL_NONE;
	return rules_raise(r, d, c, l, v, pt->unit, mono, wall);
}

static int rules_discrete(struct rules *r, struct dstate *d, const char *channel, enum kind kind,
                          enum level level, bool test, double value, int64_t mono, int64_t wall)
{
	struct cond *c = rules_cond(d, channel, kind, level != LEVEL_NONE);

	if (!c)
		return level == LEVEL_NONE ? 0 : -ENOMEM;
	if (level == LEVEL_NONE)
		return c->cur == LEVEL_NONE ? 0 : rules_clear(r, d, c, wall);
	if (level <= c->cur)
		return 0;
	c->test = test;
	c->threshold = NAN;
	return rules_raise(r, d, c, level, value, "", mono, wall);
}

static bool bit_same_group(const struct status_bit *a, const struct status_bit *b)
{
	return a->kind == b->kind && strcmp(a->channel, b->channel) == 0;
}

/* Status bits: a (channel, kind) may hang on bits of several status points (open and short
 * maps); its level is the highest whose bit is set in the latest value of its point. Only the
 * groups with a bit in `pt` are looked at again. */
static int rules_status_bits(struct rules *r, struct dstate *d, const struct point *pt,
                             int64_t mono, int64_t wall)
{
	const struct profile *p = d->dc->prof;
	int rc = 0;

	for (size_t i = 0; i < p->nbits && rc == 0; i++) {
		const struct status_bit *b = &p->bits[i];
		bool first = true, touched = false;
		enum level best = LEVEL_NONE;

		for (size_t j = 0; j < i && first; j++)
			first = !bit_same_group(&p->bits[j], b);
		if (!first)
			continue;
		for (size_t j = i; j < p->nbits; j++) {
			const struct status_bit *o = &p->bits[j];
			const struct point *op;
			double v;

			if (!bit_same_group(o, b))
				continue;
			if (strcmp(o->point, pt->name) == 0)
				touched = true;
			op = profile_point(p, o->point);
			v = op ? d->last[op - p->points] : NAN;
			if (!isnan(v) && ((uint32_t)(int64_t)v >> o->bit) & 1u && o->level > best)
				best = o->level;
		}
		if (touched)
			rc = rules_discrete(r, d, b->channel, b->kind, best, false, best ? 1 : 0,
			                    mono, wall);
	}
	return rc;
}

static struct dstate *rules_known(struct rules *r, const char *device)
{
	struct dstate *d = rules_dev(r, device);

	if (!d) {
		r->stats.unknown_device++;
		if (r->stats.unknown_device == 1 || (r->stats.unknown_device & 1023) == 0)
			log_warn(_("reading for unknown device '%s' ignored (%llu so far); add it to "
			         "the config or fix its id"),
			         device, (unsigned long long)r->stats.unknown_device);
	}
	return d;
}

int rules_value(struct rules *r, const char *device, const char *point, double value,
                int64_t mono_ms, int64_t wall_ms)
{
	struct dstate *d = rules_known(r, device);
	const struct point *pt;
	bool own;
	int rc;

	if (!d || !d->dc->prof)
		return d ? -EINVAL : -ENOENT;
	pt = profile_point(d->dc->prof, point);
	if (!pt) {
		r->stats.unknown_point++;
		return -ENOENT;
	}
	if (!isfinite(value))
		return -EINVAL;
	r->stats.readings++;
	if ((rc = rules_tx_begin(r, &own)) < 0)
		return rc;
	size_t idx = (size_t)(pt - d->dc->prof->points);
	const struct setpoints *s = &d->dc->rules[idx];
	d->last[idx] = value;
	if (s->kind >= 0)
		rc = rules_analog(r, d, pt, s, value, mono_ms, wall_ms);
	if (rc == 0)
		rc = rules_status_bits(r, d, pt, mono_ms, wall_ms);
	return rules_tx_end(r, own, rc, mono_ms, wall_ms);
}

int64_t rules_value_class(struct rules *r, const char *device, const char *point, double value)
{
	struct dstate *d = rules_dev(r, device);
	const struct point *pt = d && d->dc->prof ? profile_point(d->dc->prof, point) : NULL;
	const struct profile *p;
	int64_t cls = 1;
	double t;

	if (!pt)
		return 0;
	if (!isfinite(value))
		return -1;
	p = d->dc->prof;
	const struct setpoints *s = &d->dc->rules[pt - p->points];
	if (s->kind >= 0)
		cls |= (int64_t)rules_level_of(s, value, &t) << 1 |
		       (int64_t)rules_below_clear(s, value) << 3;
	for (size_t i = 0; i < p->nbits; i++)
		if (strcmp(p->bits[i].point, pt->name) == 0)
			return cls | (int64_t)(uint32_t)(int64_t)value << 4;
	return cls;
}

void rules_value_holds(struct rules *r, const char *device, const char *point, int64_t *hold_ms,
                       int64_t *clear_hold_ms)
{
	struct dstate *d = rules_dev(r, device);
	const struct point *pt = d && d->dc->prof ? profile_point(d->dc->prof, point) : NULL;
	const struct setpoints *s = pt ? &d->dc->rules[pt - d->dc->prof->points] : NULL;

	*hold_ms = s && s->kind >= 0 ? s->hold_ms : 0;
	*clear_hold_ms = s && s->kind >= 0 ? s->clear_hold_ms : 0;
}

int rules_state(struct rules *r, const char *device, const char *channel, enum kind kind,
                enum level level, bool test, int64_t mono_ms, int64_t wall_ms)
{
	struct dstate *d = rules_known(r, device);
	bool own;
	int rc;

	if (!d)
		return -ENOENT;
	r->stats.readings++;
	if ((rc = rules_tx_begin(r, &own)) < 0)
		return rc;
	rc =
	    rules_discrete(r, d, channel, kind, level, test, level != LEVEL_NONE, mono_ms, wall_ms);
	return rules_tx_end(r, own, rc, mono_ms, wall_ms);
}

int rules_silence(struct rules *r, const char *device, const char *channel, enum kind kind,
                  int64_t mono_ms, int64_t wall_ms)
{
	struct dstate *d = rules_known(r, device);
	struct cond *c;
	bool own;
	int rc;

	if (!d)
		return -ENOENT;
	r->stats.readings++;
	c = rules_cond(d, channel, kind, false);
	if (!c || c->cur == LEVEL_NONE) {
		r->stats.silence_ignored++;
		return 0;
	}
	if ((rc = rules_tx_begin(r, &own)) < 0)
		return rc;
	rc = hazard_silence(r->ledger, d->dc->id, channel, kind, wall_ms);
	if (rc > 0) {
		r->stats.silenced++;
		rc = 0;
	}
	return rules_tx_end(r, own, rc, mono_ms, wall_ms);
}

static int rules_set_offline(struct rules *r, struct dstate *d, bool offline, int64_t mono,
                             int64_t wall)
{
	bool own;
	int rc;

	if (offline == d->offline)
		return 0;
	if ((rc = rules_tx_begin(r, &own)) < 0)
		return rc;
	rc = rules_discrete(r, d, OFFLINE_POINT, KIND_DEVICE_OFFLINE,
	                    offline ? LEVEL_ALARM : LEVEL_NONE, false, 0, mono, wall);
	rc = rules_tx_end(r, own, rc, mono, wall);
	if (rc == 0) {
		d->offline = offline;
		if (offline)
			log_warn(_("device '%s' is offline"), d->dc->id);
		else
			log_notice(_("device '%s' is back online"), d->dc->id);
	}
	return rc;
}

int rules_poll(struct rules *r, const char *device, bool ok, int64_t mono_ms, int64_t wall_ms)
{
	struct dstate *d = rules_known(r, device);

	if (!d)
		return -ENOENT;
	if (ok) {
		d->failures = 0;
		d->last_heard = mono_ms;
		return rules_set_offline(r, d, false, mono_ms, wall_ms);
	}
	if (++d->failures < d->dc->offline_after)
		return 0;
	return rules_set_offline(r, d, true, mono_ms, wall_ms);
}

int rules_heard(struct rules *r, const char *device, int64_t mono_ms, int64_t wall_ms)
{
	return rules_poll(r, device, true, mono_ms, wall_ms);
}

static int rules_tick_device(struct rules *r, struct dstate *d, int64_t mono, int64_t wall)
{
	const struct policy *p = &r->conf->policy;
	int rc = 0;

	/* A device that reports by itself and has gone silent. */
	if (d->dc->key && !d->offline && d->last_heard > 0 &&
	    mono - d->last_heard > d->dc->heartbeat_timeout_ms)
		rc = rules_set_offline(r, d, true, mono, wall);
	for (size_t i = 0; i < d->nconds && rc == 0; i++) {
		struct cond *c = &d->conds[i];
		int64_t esc = p->escalate_s[c->kind] * 1000;

		if (c->cur == LEVEL_NONE || c->escalated || esc <= 0 || c->test ||
		    mono - c->active_since < esc || !c->hazard_id[0])
			continue;
		rc = hazard_escalate(r->ledger, p, c->hazard_id, wall);
		if (rc == 0) {
			c->escalated = true;
			r->stats.escalated++;
		}
	}
	return rc;
}

int rules_tick(struct rules *r, int64_t mono_ms, int64_t wall_ms)
{
	bool own;
	int rc;

	if ((rc = rules_tx_begin(r, &own)) < 0)
		return rc;
	for (size_t i = 0; i < r->ndevs && rc == 0; i++) {
		struct dstate *d = &r->devs[i];

		if (d->dc->key && d->last_heard == 0)
			d->last_heard = mono_ms; /* the heartbeat clock starts with the daemon */
		rc = rules_tick_device(r, d, mono_ms, wall_ms);
	}
	/* Deadlines are dates: once a minute is often enough to notice one passing. */
	if (rc == 0 && (r->last_overdue_check == 0 || wall_ms - r->last_overdue_check >= 60000 ||
	                wall_ms < r->last_overdue_check)) {
		r->last_overdue_check = wall_ms;
		rc = hazard_mark_overdue(r->ledger, &r->conf->policy, wall_ms);
		if (rc > 0) {
			r->stats.overdue += (uint64_t)rc;
			rc = 0;
		}
	}
	return rules_tx_end(r, own, rc, mono_ms, wall_ms);
}

struct resync_ctx {
	struct rules *r;
	int64_t mono, wall;
};

static int rules_resync_one(struct hazard *h, void *userdata)
{
	struct resync_ctx *x = userdata;
	struct dstate *d = rules_dev(x->r, h->device);
	struct cond *c;
	const char *lvl;

	if (!d)
		return 0;
	c = rules_cond(d, h->point, h->kind, true);
	if (!c)
		return -ENOMEM;
	lvl = json_string_value(json_object_get(h->info, "level"));
	c->cur = lvl && strcmp(lvl, "prealarm") == 0 ? LEVEL_PREALARM
	         : lvl && strcmp(lvl, "high") == 0   ? LEVEL_HIGH
	                                             : LEVEL_ALARM;
	c->threshold = h->threshold;
	c->peak = h->peak;
	c->test = h->test;
	c->escalated = hazard_escalation_done(h);
	json_t *since = json_object_get(h->info, "active_since_ms");
	int64_t from = json_is_integer(since) ? json_integer_value(since) : h->first_seen;
	int64_t age = x->wall - from;
	c->active_since = x->mono - (age > 0 ? age : 0);
	snprintf(c->hazard_id, sizeof(c->hazard_id), "%s", h->id);
	if (h->kind == KIND_DEVICE_OFFLINE) {
		d->offline = true;
		d->failures = d->dc->offline_after;
	}
	return 0;
}

int rules_resync(struct rules *r, int64_t mono_ms, int64_t wall_ms)
{
	struct resync_ctx x = {r, mono_ms, wall_ms};

	for (size_t i = 0; i < r->ndevs; i++) {
		r->devs[i].nconds = 0;
		r->devs[i].offline = false;
		r->devs[i].failures = 0;
	}
	return ledger_hazard_foreach_open(r->ledger, true, rules_resync_one, &x);
}

/* The end of a gateway item's own transaction (no live state to rebuild: its items are never
 * active). */
static int rules_gateway_tx_end(struct rules *r, bool own, int rc)
{
	if (!own)
		return rc;
	if (rc < 0) {
		ledger_rollback(r->ledger);
		return rc;
	}
	return ledger_commit(r->ledger);
}

/* The info of one of the gateway's own items: the site, and null for what only a device
 * has (a strict platform wants every field of the contract present). */
static json_t *rules_gateway_info(const struct rules *r, const char *location)
{
	const struct site_conf *s = &r->conf->site;

	return json_pack("{s:{s:s, s:s, s:s, s:s, s:s}, s:s, s:n, s:n, s:n, s:n}", "site", "county",
	                 s->county, "town", s->town, "village", s->village, "unit", s->unit,
	                 "address", s->address, "location", location, "device", "responsible",
	                 "acceptor", "active_since");
}

int rules_restarted(struct rules *r, int64_t last_alive_ms, int64_t wall_ms)
{
	json_t *info = rules_gateway_info(r, "gateway");
	char last[32];
	bool own;
	int rc;

	if (!info)
		return -ENOMEM;
	clock_format_iso(last_alive_ms, last, sizeof(last));
	/* The outage is the wall clock's difference: unknown when the clock went back (a
	 * gateway without a battery-backed clock that came up without network). */
	json_object_set_new(info, "clean_stop", json_false());
	json_object_set_new(info, "last_alive",
	                    last_alive_ms > 0 ? json_string(last) : json_null());
	json_object_set_new(info, "outage_s",
	                    last_alive_ms > 0 && wall_ms >= last_alive_ms
	                        ? json_integer((wall_ms - last_alive_ms) / 1000)
	                        : json_null());
	if ((rc = rules_tx_begin(r, &own)) < 0) {
		json_decref(info);
		return rc;
	}
	rc = hazard_restarted(r->ledger, &r->conf->policy, last_alive_ms, wall_ms, info, NULL);
	json_decref(info);
	return rules_gateway_tx_end(r, own, rc);
}

int rules_ledger_corrupt(struct rules *r, const struct ledger_open_info *oi, int64_t wall_ms)
{
	json_t *info = rules_gateway_info(r, "gateway ledger");
	const struct ledger_salvage_counts *sc = &oi->salvaged;

	json_object_set_new(info, "moved_to", json_string(oi->moved_to));
	json_object_set_new(info, "reason", json_string(oi->reason));
	/* What came over into the new ledger, and what could not be read. */
	json_object_set_new(info, "salvaged",
	                    json_pack("{s:I, s:I, s:I}", "unsent_events", (json_int_t)sc->events,
	                              "open_items", (json_int_t)sc->items, "unreadable_events",
	                              (json_int_t)sc->unreadable));
	struct hazard_obs o = {
	    .device = "gateway",
	    .point = "ledger",
	    .kind = KIND_LEDGER_CORRUPT,
	    .level = LEVEL_ALARM,
	    .threshold = NAN,
	    .unit = "",
	    .wall_ms = wall_ms,
	    .info = info,
	};
	enum hazard_outcome out;
	bool own;
	int rc;

	if ((rc = rules_tx_begin(r, &own)) < 0) {
		json_decref(info);
		return rc;
	}
	rc = hazard_observe(r->ledger, &r->conf->policy, &o, NULL, &out);
	json_decref(info);
	return rules_gateway_tx_end(r, own, rc);
}
