// The live panel screen: member cards with streaming text, who is speaking,
// the human turn box (human-turn.js), the moderator bar (moderation.js), the
// outcome, the round timeline (timeline.js), and the activity log. Patched
// in place as the feed changes.
// Grounded panels: citations, evidence and sources come from citations.js.
// A finished panel opens on its summary (report-view.js), its rounds and
// transcript collapsed below. The shared view (shared-view.js) is this view,
// read-only, fed through a link instead of the socket.
// Who is watching, and which human members are connected: presence.js.
// Why each AI member was seated: why-chosen.js. A finished panel's tokens,
// turns and duration: panel-usage.js (not on share links).

import { announcer, appendAll, clear, h, setText } from './dom.js';
import { METHOD_LABEL, TERMINAL, TYPE_BY_ID, domainLabel, fmtDate, fmtNum, statusBadge, timeOnly } from './format.js';
import { api } from './api.js';
import { session } from './session.js';
import { app } from './state.js';
import { PanelFeed } from './feed.js';
import { renderOutcomeInto } from './outcome.js';
import { fillCitedText } from './citations.js';
import { Timeline } from './timeline.js';
import { ReportSummary } from './report-view.js';
import { followUpControls, renderChildren, renderParent } from './follow-up.js';
import { shareSection } from './share.js';
import { HumanTurn } from './human-turn.js';
import { ModBar } from './moderation.js';
import { PresenceLine } from './presence.js';
import { whyChosen } from './why-chosen.js';
import { PanelUsage } from './panel-usage.js';
import { mountView, notFoundView } from './view.js';

/** The view of one panel, patched in place as its feed changes (rendering is batched per animation frame). */
export class LiveView {
  /**
   * `shared` (shared-view.js): { makeFeed(onChange), report(panelId), notFound() }
   * for a shared link's read-only view; absent for a signed-in person's.
   */
  constructor(panelId, { shared = null } = {}) {
    this.panelId = panelId;
    this.shared = shared;
    this.readOnly = Boolean(shared);
    const onChange = (change) => this.onChange(change);
    this.feed = shared ? shared.makeFeed(onChange) : new PanelFeed(app.conn(), panelId, onChange);
    this.frame = 0;
    this.cards = new Map();
    this.activityCount = 0;
    this.tick = setInterval(() => this.human.updateCountdown(), 1000);
    // The panel's documents name the passages its members cite (config.documents: [{id, label, title}]).
    this.titleOf = (id) => {
      const docs = (this.feed.model && this.feed.model.panel.config && this.feed.model.panel.config.documents) || [];
      const d = docs.find((x) => x.id === id);
      return d ? d.title : undefined;
    };
    this.build();
    this.feed.start();
  }

  destroy() {
    this.destroyed = true;
    clearInterval(this.tick);
    cancelAnimationFrame(this.frame);
    this.feed.stop();
  }

  onChange(change) {
    if (this.destroyed) return;
    if (change.say) announcer.say(change.say);
    if (!this.frame) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.render();
      });
    }
  }

  build() {
    this.title = h('h1', { class: 'live-title', id: 'live-title', text: 'Loading panel…' });
    this.meta = h('p', { class: 'live-meta' });
    this.lineage = h('p', { class: 'lineage', id: 'lineage', hidden: true });
    this.sharedNote = this.shared ? h('p', { class: 'shared-note', id: 'shared-note', text: 'A read-only view shared with you.' }) : null;
    this.docsLine = h('p', { class: 'live-docs', id: 'live-docs', hidden: true });
    this.speaking = h('p', { class: 'speaking', id: 'speaking', 'aria-live': 'off' });
    this.presence = new PresenceLine();
    this.banner = h('p', { class: 'banner', hidden: true, role: 'status' });
    this.stale = h('p', { class: 'stale', hidden: true, text: 'Live updates are interrupted; reconnecting. What you see may be behind.' });
    this.human = new HumanTurn({ panelId: this.panelId, title: this.title, readOnly: this.readOnly });
    this.modBar = new ModBar(this.panelId);
    this.cardList = h('ul', { class: 'cards', id: 'member-cards' });
    this.members = h('section', { class: 'members', 'aria-labelledby': 'members-h' }, h('h2', { id: 'members-h', text: 'Members' }), this.cardList);
    this.outcome = h('section', { class: 'outcome', id: 'outcome', 'aria-labelledby': 'outcome-h' });
    // A finished panel's summary, above everything else (on a phone too, before the member cards).
    this.summary = h('section', { class: 'summary', id: 'summary', hidden: true, 'aria-labelledby': 'outcome-h' });
    this.timeline = new Timeline(this.titleOf);
    this.childrenBox = h('section', { class: 'children-box', id: 'children-box', hidden: true });
    this.activityList = h('ol', { class: 'activity-list' });
    this.activity = h('section', { class: 'activity', 'aria-labelledby': 'activity-h' }, h('details', {}, h('summary', {}, h('h2', { id: 'activity-h', class: 'inline-h', text: 'Activity' })), this.activityList));
    this.loading = h('p', { class: 'loading', role: 'status', text: 'Connecting to the panel…' });
    // Sharing is a moderator's; a shared view links nowhere else in the page.
    const share = !this.readOnly && session.atLeast('moderator') ? shareSection(this.panelId) : null;
    this.usage = this.readOnly ? null : new PanelUsage(this.panelId);
    this.root = h(
      'article',
      { class: 'live', 'aria-labelledby': 'live-title', dataset: this.readOnly ? { panelId: '', shared: 'true' } : { panelId: this.panelId } },
      h('header', { class: 'live-head' }, this.readOnly ? null : h('p', { class: 'crumbs' }, h('a', { href: '#/panels', text: '← All panels' })), this.sharedNote, this.title, this.meta, this.lineage, this.docsLine, this.speaking, this.readOnly ? null : this.presence.el, this.banner, this.stale),
      this.loading,
      this.summary,
      this.human.box,
      this.modBar.el,
      h('div', { class: 'live-grid' }, this.members, h('div', { class: 'live-side' }, this.outcome, this.childrenBox, this.usage && this.usage.el, this.activity, share), this.timeline.el),
    );
    mountView('Panel', this.root);
  }

  render() {
    const feed = this.feed;
    if (feed.notFound) {
      this.destroy();
      if (this.shared) this.shared.notFound();
      else notFoundView('Panel not found', 'There is no panel with this address in your organisation.');
      return;
    }
    const model = feed.model;
    // The log is read up to where it stood when the page opened before any of
    // it is shown: a finished panel opens on its summary, not on a replay.
    if (!model || (!this.rendered && feed.lastSeq < feed.replayUntil)) {
      this.loading.textContent = feed.error ? `Could not load the panel: ${feed.error}` : 'Connecting to the panel…';
      return;
    }
    this.loading.hidden = true;
    const p = model.panel;
    if (!this.rendered) {
      this.rendered = true;
      if (TERMINAL.has(p.status)) this.timeline.collapse();
    }
    this.root.dataset.panelId = p.id;
    this.stale.hidden = TERMINAL.has(p.status) || feed.isConnected();
    // A question may run to 5000 characters: the heading shows its start, the rest stays one click away.
    setText(this.title, p.query.length > 240 ? `${p.query.slice(0, 220).trimEnd()}…` : p.query);
    if (p.query.length > 240 && !this.fullQuery) {
      this.fullQuery = h('details', { class: 'full-query' }, h('summary', { text: 'Full question' }), h('p', { text: p.query }));
      this.title.after(this.fullQuery);
    }
    // A shared panel is another organisation's: titled with its name (the link's branding), never the viewer's.
    const branding = this.readOnly ? this.feed.branding : session.tenant && session.tenant.branding;
    const brand = branding && branding.display_name;
    document.title = `${p.query.slice(0, 60)} · ${brand || 'askpanel'}`;
    this.root.dataset.status = p.status;
    this.renderMeta(model);
    renderParent(this.lineage, p.config && p.config.parent, { link: !this.readOnly });
    if (this.sharedNote && this.feed.expiresAt) setText(this.sharedNote, `A read-only view shared with you; the link works until ${fmtDate(this.feed.expiresAt)}.`);
    this.renderSpeaking(model);
    this.presence.update(feed.presence);
    this.renderBanner(model);
    this.human.render(model);
    this.modBar.update(model, !this.readOnly && session.atLeast('moderator'));
    this.renderCards(model);
    this.renderSummary(model);
    this.timeline.update(model);
    this.renderActivity(model);
  }

  /** Running: the outcome in the side column. Finished: the summary on top, from the report. */
  renderSummary(model) {
    const p = model.panel;
    const finished = TERMINAL.has(p.status);
    this.summary.hidden = !finished;
    this.outcome.hidden = finished;
    if (!finished) {
      this.renderOutcome(model);
      return;
    }
    if (!this.report) {
      // One #recommendation on the page: the side's outcome gives way.
      clear(this.outcome);
      this.outcomeSig = null;
      const followUps = this.readOnly || !session.atLeast('member') ? [] : [followUpControls(p.id, p.status)];
      this.report = new ReportSummary({ el: this.summary, source: this.reportSource(p.id), extra: followUps, onChange: () => this.onChange({ kind: 'report' }) });
      if (!this.readOnly) this.loadChildren(p.id);
      if (this.usage) this.usage.load();
    }
    this.report.update(model);
  }

  reportSource(id) {
    if (this.shared) return this.shared.report(id);
    const base = `/v1/panels/${id}/report`;
    return { reportPath: `${base}?format=json`, filePath: (format) => `${base}?format=${format}`, fileName: (format) => `askpanel-${id}.${format}`, anonymous: false };
  }

  /** The panels started from this one: only GET /v1/panels/{id} lists them. */
  async loadChildren(id) {
    try {
      const full = await api('GET', `/v1/panels/${id}`);
      if (!this.destroyed) renderChildren(this.childrenBox, Array.isArray(full.children) ? full.children : []);
    } catch {
      // A convenience: without it the page simply lists no follow-ups.
    }
  }

  renderMeta(model) {
    const p = model.panel;
    const type = TYPE_BY_ID[p.panel_type];
    const cfg = p.config || {};
    const roundNow = model.currentRound();
    const simulated = p.members.some((m) => m.model === 'simulated');
    const docs = Array.isArray(cfg.documents) ? cfg.documents : [];
    const sig = [p.status, roundNow && roundNow.round, cfg.max_rounds, simulated, docs.length].join('|');
    if (this.metaSig === sig) return;
    this.metaSig = sig;
    this.docsLine.hidden = !docs.length;
    clear(this.docsLine);
    if (docs.length) {
      appendAll(
        this.docsLine,
        h('span', { class: 'live-docs-label', text: `Documents (${docs.length}):` }),
        docs.map((d) => h('span', { class: 'live-doc', dataset: { document: d.id } }, h('span', { class: 'tag', text: d.label }), ` ${d.title || 'Untitled document'}`)),
        cfg.evidence_chars ? h('span', { class: 'meta-item', text: `up to ${cfg.evidence_chars} characters of passages per turn` }) : null,
      );
    }
    clear(this.meta);
    appendAll(
      this.meta,
      statusBadge(p.status),
      h('span', { class: 'badge type', text: type ? type.label : p.panel_type }),
      p.panel_type === 'hybrid' && cfg.base_flow ? h('span', { class: 'meta-item', text: `on ${TYPE_BY_ID[cfg.base_flow] ? TYPE_BY_ID[cfg.base_flow].label.toLowerCase() : cfg.base_flow}` }) : null,
      h('span', { class: 'meta-item', text: roundNow ? `Round ${roundNow.round} of at most ${cfg.max_rounds || '?'}` : `Up to ${cfg.max_rounds || '?'} rounds` }),
      cfg.consensus_method ? h('span', { class: 'meta-item', text: METHOD_LABEL[cfg.consensus_method] || cfg.consensus_method }) : null,
      simulated ? h('span', { class: 'tag sim', text: 'Simulated experts' }) : null,
    );
  }

  renderSpeaking(model) {
    const p = model.panel;
    let text;
    if (p.current_turn) text = `${model.memberName(p.current_turn.member_id)} is speaking…`;
    else if (p.pending_human) text = `Waiting for ${model.memberName(p.pending_human.member_id)} (human member) to answer.`;
    else if (p.status === 'paused') text = 'Paused.';
    else if (p.status === 'completed') text = 'The panel has finished.';
    else if (p.status === 'failed') text = 'The panel failed.';
    else if (p.status === 'cancelled') text = 'The panel was cancelled.';
    else if (p.status === 'created') text = 'Starting…';
    else text = 'Deliberating…';
    setText(this.speaking, text);
    this.speaking.dataset.active = p.current_turn ? 'speaking' : p.pending_human ? 'human' : '';
  }

  renderBanner(model) {
    const p = model.panel;
    let text = '';
    if (p.status === 'paused') text = `Paused${p.paused_reason ? ` (${p.paused_reason.replace(/_/g, ' ')})` : ''}. A moderator can resume it.`;
    else if (p.status === 'failed') text = `The panel failed: ${p.error || 'unknown error'}`;
    else if (p.status === 'cancelled') text = 'This panel was cancelled.';
    this.banner.hidden = !text;
    this.banner.dataset.kind = p.status;
    setText(this.banner, text);
  }

  renderCards(model) {
    const p = model.panel;
    const dissent = new Set((p.consensus && p.consensus.dissent) || []);
    const round = model.currentRound();
    for (const m of p.members) {
      let card = this.cards.get(m.id);
      if (!card) {
        card = this.buildCard(m, p.query);
        this.cards.set(m.id, card);
        this.cardList.append(card.li);
      }
      const ct = p.current_turn && p.current_turn.member_id === m.id ? p.current_turn : null;
      const waiting = p.pending_human && p.pending_human.member_id === m.id;
      const last = model.lastTurnOf(m.id);
      let state = 'idle';
      let stateText = 'Waiting';
      const skipped = round && round.skipped.find((x) => x.member_id === m.id);
      const doneThisRound = round && round.turns.some((t) => t.member_id === m.id);
      if (ct) {
        state = 'speaking';
        stateText = 'Speaking…';
      } else if (waiting) {
        state = 'human';
        stateText = 'Their turn: waiting for input';
      } else if (doneThisRound) {
        state = 'done';
        stateText = `Spoke in round ${round.round}`;
      } else if (skipped) {
        state = 'skipped';
        stateText = `Skipped (${skipped.reason.replace(/_/g, ' ')})`;
      } else if (TERMINAL.has(p.status)) {
        state = 'done';
        stateText = last ? `Last spoke in round ${last.round}` : 'Did not speak';
      }
      card.li.dataset.state = state;
      card.li.setAttribute('aria-busy', ct ? 'true' : 'false');
      setText(card.state, stateText);
      const text = ct ? ct.text : last ? last.text : '';
      // Streaming text is unchecked: citation buttons only once the turn completed with its citations.
      if (!ct && last && text) fillCitedText(card.text, text, last.citations, last.seq, this.titleOf);
      else fillCitedText(card.text, text || (ct ? '' : 'No turn yet.'), null);
      card.text.dataset.empty = text ? 'false' : 'true';
      card.text.dataset.streaming = ct ? 'true' : 'false';
      const ratingText = !ct && last && last.rating != null ? `Rating ${last.rating}/9${last.confidence != null ? ` · confidence ${fmtNum(last.confidence, 2)}` : ''}` : '';
      setText(card.rating, ratingText);
      card.rating.hidden = !ratingText;
      // A finished panel's turns are in its transcript: the cards do not repeat the last round.
      card.text.hidden = TERMINAL.has(p.status);
      card.dissent.hidden = !dissent.has(m.id);
      if (card.online) card.online.hidden = !this.presence.connected.has(m.id);
    }
  }

  buildCard(m, question) {
    const nameId = `card-name-${m.id}`;
    const tags = [];
    if (m.kind === 'human') tags.push(h('span', { class: 'tag human', text: 'Human' }));
    if (m.model === 'simulated') tags.push(h('span', { class: 'tag sim', text: 'Simulated' }));
    else if (m.model) tags.push(h('span', { class: 'tag', text: m.model }));
    if (m.team) tags.push(h('span', { class: `tag team-${m.team}`, text: m.team === 'pro' ? 'Pro team' : 'Con team' }));
    if (m.role === 'questioner') tags.push(h('span', { class: 'tag', text: 'Questioner' }));
    const state = h('p', { class: 'card-state' });
    const text = h('p', { class: 'card-text' });
    const rating = h('p', { class: 'card-rating', hidden: true });
    const dissent = h('p', { class: 'card-dissent', hidden: true, text: 'Dissents from the panel' });
    // A human member's person has the panel open (presence's members_connected).
    const online = m.kind === 'human' ? h('span', { class: 'card-online', hidden: true }, h('span', { class: 'online-dot', 'aria-hidden': 'true' }), 'Connected') : null;
    // Why an AI member was seated (basis, matched words, preference, domain): one line, its reasons a click away.
    const why = m.kind === 'ai' ? whyChosen(m.selection, { own: !this.readOnly, question }) : null;
    const li = h(
      'li',
      { class: 'card', dataset: { member: m.id, kind: m.kind }, 'aria-labelledby': nameId },
      h('div', { class: 'card-head' }, h('h3', { class: 'card-name', id: nameId, text: m.name }), online, m.domain ? h('p', { class: 'card-domain', text: domainLabel(m.domain) }) : null, h('p', { class: 'card-tags' }, tags)),
      why,
      state,
      text,
      rating,
      dissent,
    );
    return { li, state, text, rating, dissent, online };
  }

  renderOutcome(model) {
    const p = model.panel;
    const c = p.consensus;
    const sig = [p.status, p.draft, p.recommendation, c && JSON.stringify([c.round, c.level, c.agreement, c.dissent]), p.verdict && p.verdict.winner, p.ideas.length, p.error, JSON.stringify(p.sources || [])].join('|');
    if (sig === this.outcomeSig) return;
    this.outcomeSig = sig;
    clear(this.outcome);
    renderOutcomeInto(this.outcome, model);
  }

  renderActivity(model) {
    const items = model.activity;
    for (const a of items.slice(this.activityCount)) {
      this.activityList.append(h('li', {}, h('time', { datetime: a.ts, text: timeOnly.format(new Date(a.ts)) }), ' ', a.text));
    }
    this.activityCount = items.length;
  }
}
