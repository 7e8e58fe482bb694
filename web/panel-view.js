// The live panel screen: member cards with streaming text, who is speaking,
// the human turn box, the moderator bar, the outcome, the round timeline
// with its charts, and the activity log. Patched in place as the feed changes.
// Grounded panels: citations, evidence and sources come from citations.js.

import { announcer, appendAll, clear, h, setText } from './dom.js';
import { DECISION_LABEL, LEVEL_LABEL, METHOD_LABEL, PHASE_LABEL, TERMINAL, TYPE_BY_ID, domainLabel, fmtDuration, fmtNum, statusBadge, timeOnly } from './format.js';
import { api } from './api.js';
import { session } from './session.js';
import { app } from './state.js';
import { PanelFeed } from './feed.js';
import { ratingsChart } from './chart.js';
import { renderOutcomeInto } from './outcome.js';
import { citedNodes, evidenceLine, fillCitedText } from './citations.js';
import { mountView, notFoundView, showFieldError } from './view.js';

/** The view of one panel, patched in place as its feed changes (rendering is batched per animation frame). */
export class LiveView {
  constructor(panelId) {
    this.panelId = panelId;
    this.feed = new PanelFeed(app.conn(), panelId, (change) => this.onChange(change));
    this.frame = 0;
    this.cards = new Map();
    this.roundEls = new Map();
    this.activityCount = 0;
    this.humanSig = null;
    this.tick = setInterval(() => this.updateCountdown(), 1000);
    this.announcedAt = new Set();
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
    clearInterval(this.tick);
    cancelAnimationFrame(this.frame);
    this.feed.stop();
  }

  onChange(change) {
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
    this.docsLine = h('p', { class: 'live-docs', id: 'live-docs', hidden: true });
    this.speaking = h('p', { class: 'speaking', id: 'speaking', 'aria-live': 'off' });
    this.banner = h('p', { class: 'banner', hidden: true, role: 'status' });
    this.stale = h('p', { class: 'stale', hidden: true, text: 'Live updates are interrupted; reconnecting. What you see may be behind.' });
    this.humanBox = h('section', { class: 'human-turn', id: 'human-turn', hidden: true, 'aria-labelledby': 'human-turn-h' });
    this.modBar = this.buildModBar();
    this.cardList = h('ul', { class: 'cards', id: 'member-cards' });
    this.members = h('section', { class: 'members', 'aria-labelledby': 'members-h' }, h('h2', { id: 'members-h', text: 'Members' }), this.cardList);
    this.outcome = h('section', { class: 'outcome', id: 'outcome', 'aria-labelledby': 'outcome-h' });
    this.roundList = h('ol', { class: 'rounds', id: 'rounds' });
    this.timeline = h('section', { class: 'timeline', 'aria-labelledby': 'rounds-h' }, h('h2', { id: 'rounds-h', text: 'Rounds' }), h('p', { class: 'help', id: 'rounds-empty', text: 'The first round has not started.' }), this.roundList);
    this.activityList = h('ol', { class: 'activity-list' });
    this.activity = h('section', { class: 'activity', 'aria-labelledby': 'activity-h' }, h('details', {}, h('summary', {}, h('h2', { id: 'activity-h', class: 'inline-h', text: 'Activity' })), this.activityList));
    this.loading = h('p', { class: 'loading', role: 'status', text: 'Connecting to the panel…' });
    this.root = h(
      'article',
      { class: 'live', 'aria-labelledby': 'live-title', dataset: { panelId: this.panelId } },
      h('header', { class: 'live-head' }, h('p', { class: 'crumbs' }, h('a', { href: '#/panels', text: '← All panels' })), this.title, this.meta, this.docsLine, this.speaking, this.banner, this.stale),
      this.loading,
      this.humanBox,
      this.modBar,
      h('div', { class: 'live-grid' }, this.members, h('div', { class: 'live-side' }, this.outcome, this.activity), this.timeline),
    );
    mountView('Panel', this.root);
  }

  buildModBar() {
    const msg = h('p', { class: 'mod-msg', role: 'status', id: 'mod-msg' });
    const btn = (action, label, cls = '', onclick = () => this.moderate(action)) => h('button', { type: 'button', class: `btn ${cls}`, dataset: { action }, text: label, onclick });
    this.modButtons = {
      pause: btn('pause', 'Pause'),
      resume: btn('resume', 'Resume'),
      skip_turn: btn('skip_turn', 'Skip turn'),
      end_round: btn('end_round', 'End round'),
      finish: btn('finish', 'Finish now'),
      // Cancelling is final: the button only asks; the confirmation sends.
      cancel: btn('cancel', 'Cancel panel', 'btn-danger', () => {
        confirmBox.hidden = false;
        confirmBox.querySelector('#confirm-cancel').focus();
      }),
    };
    const confirmBox = h(
      'div',
      { class: 'confirm', hidden: true, role: 'group', 'aria-labelledby': 'confirm-cancel-q' },
      h('p', { id: 'confirm-cancel-q', text: 'Cancel this panel? It stops for good and gives no recommendation.' }),
      h('button', {
        type: 'button',
        class: 'btn btn-danger',
        id: 'confirm-cancel',
        text: 'Yes, cancel the panel',
        onclick: () => {
          confirmBox.hidden = true;
          this.moderate('cancel');
        },
      }),
      h('button', {
        type: 'button',
        class: 'btn',
        text: 'Keep it running',
        onclick: () => {
          confirmBox.hidden = true;
          this.modButtons.cancel.focus();
        },
      }),
    );
    const injectInput = h('input', { type: 'text', id: 'inject-text', maxlength: 2000, autocomplete: 'off' });
    const injectForm = h(
      'form',
      { class: 'inject', novalidate: true },
      h('label', { for: 'inject-text', text: 'Question or instruction for the next turns' }),
      h('div', { class: 'inline-row' }, injectInput, h('button', { type: 'submit', class: 'btn', dataset: { action: 'inject' }, text: 'Inject' })),
    );
    injectForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      const text = injectInput.value.trim();
      if (!text) {
        msg.textContent = 'Write the question or instruction to inject first.';
        injectInput.focus();
        return;
      }
      if (await this.moderate('inject', text)) injectInput.value = '';
    });
    this.modMsg = msg;
    this.injectForm = injectForm;
    return h(
      'section',
      { class: 'modbar', id: 'modbar', hidden: true, 'aria-labelledby': 'modbar-h' },
      h('h2', { id: 'modbar-h', class: 'inline-h small', text: 'Moderate' }),
      h('div', { class: 'mod-buttons', role: 'group', 'aria-label': 'Moderator actions' }, Object.values(this.modButtons)),
      confirmBox,
      injectForm,
      msg,
    );
  }

  /** Sends over the socket when it is up (the ack is immediate), else over HTTP. */
  async command(frame, path, body) {
    if (app.conn().isOpen()) {
      try {
        return await app.conn().request(frame);
      } catch (e) {
        if (e.code) throw e; // the server refused: HTTP would refuse too
      }
    }
    return api('POST', path, body);
  }

  async moderate(action, text) {
    const label = { pause: 'Pause', resume: 'Resume', skip_turn: 'Skip', end_round: 'End round', finish: 'Finish', cancel: 'Cancel', inject: 'Inject' }[action];
    this.modMsg.textContent = `${label}: sending…`;
    try {
      const body = text ? { action, text } : { action };
      await this.command({ type: 'moderate', panel_id: this.panelId, ...body }, `/v1/panels/${this.panelId}/moderate`, body);
      this.modMsg.textContent = `${label}: done.`;
      return true;
    } catch (e) {
      this.modMsg.textContent = `${label} failed: ${e.message}`;
      return false;
    }
  }

  canSpeakFor(member) {
    if (!member || member.kind !== 'human') return false;
    if (session.atLeast('moderator')) return true;
    if (!session.atLeast('member')) return false;
    return !member.key_id || member.key_id === session.identity.keyId;
  }

  render() {
    const feed = this.feed;
    if (feed.notFound) {
      this.destroy();
      notFoundView('Panel not found', 'There is no panel with this address in your organisation.');
      return;
    }
    const model = feed.model;
    if (!model) {
      this.loading.textContent = feed.error ? `Could not load the panel: ${feed.error}` : 'Connecting to the panel…';
      return;
    }
    this.loading.hidden = true;
    const p = model.panel;
    this.stale.hidden = TERMINAL.has(p.status) || (app.conn().isOpen() && !feed.waitingForSubscribed);
    // A question may run to 5000 characters: the heading shows its start, the rest stays one click away.
    setText(this.title, p.query.length > 240 ? `${p.query.slice(0, 220).trimEnd()}…` : p.query);
    if (p.query.length > 240 && !this.fullQuery) {
      this.fullQuery = h('details', { class: 'full-query' }, h('summary', { text: 'Full question' }), h('p', { text: p.query }));
      this.title.after(this.fullQuery);
    }
    document.title = `${p.query.slice(0, 60)} · ${(session.tenant && session.tenant.branding && session.tenant.branding.display_name) || 'askpanel'}`;
    this.root.dataset.status = p.status;
    this.renderMeta(model);
    this.renderSpeaking(model);
    this.renderBanner(model);
    this.renderHuman(model);
    this.renderModBar(model);
    this.renderCards(model);
    this.renderOutcome(model);
    this.renderRounds(model);
    this.renderActivity(model);
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

  renderHuman(model) {
    const p = model.panel;
    const pending = p.pending_human;
    const sig = pending ? `${pending.request_seq}|${p.status}` : null;
    if (sig === this.humanSig) return;
    const hadFocus = this.humanBox.contains(document.activeElement);
    const keepText = this.humanText && pending && this.humanFor === pending.member_id ? this.humanText.value : '';
    this.humanSig = sig;
    clear(this.humanBox);
    this.humanText = null;
    if (!pending) {
      this.humanBox.hidden = true;
      if (hadFocus) this.title.focus();
      return;
    }
    const member = model.members.get(pending.member_id);
    const name = member ? member.name : 'the human member';
    const round = model.currentRound();
    this.deadline = Date.parse(pending.deadline);
    this.countdown = h('span', { class: 'countdown', role: 'timer', 'aria-live': 'off', id: 'countdown' });
    this.announcedAt = new Set();
    this.humanBox.hidden = false;
    this.humanFor = pending.member_id;
    const paused = p.status === 'paused';
    const deadlineLine = h('p', { class: 'deadline' }, paused ? 'The panel is paused; the deadline starts again when it resumes. ' : `Answer by ${timeOnly.format(new Date(this.deadline))} · `, paused ? null : this.countdown, paused ? null : ' left');
    if (!this.canSpeakFor(member)) {
      appendAll(this.humanBox, h('h2', { id: 'human-turn-h', text: `${name}’s turn` }), h('p', { text: `Waiting for ${name} to answer.` }), deadlineLine);
      this.updateCountdown();
      return;
    }
    const textId = 'human-text';
    const ratingId = 'human-rating';
    const confId = 'human-confidence';
    const errEl = h('p', { class: 'field-error', id: 'human-err', role: 'alert', hidden: true });
    const text = h('textarea', { id: textId, rows: 5, maxlength: 20000, required: true, 'aria-describedby': 'human-help human-err', value: keepText });
    const rating = h('select', { id: ratingId }, h('option', { value: '', text: 'No rating' }), [1, 2, 3, 4, 5, 6, 7, 8, 9].map((v) => h('option', { value: v, text: `${v}${v <= 3 ? ' (disagree)' : v >= 7 ? ' (agree)' : ' (uncertain)'}` })));
    const conf = h('select', { id: confId }, h('option', { value: '', text: 'Not given' }), ['0.5', '0.6', '0.7', '0.8', '0.9', '1'].map((v) => h('option', { value: v, text: v })));
    const asksRating = round && (round.round >= 2 || round.phase === 'rating' || round.phase === 'critique');
    const send = h('button', { type: 'submit', class: 'btn btn-primary', text: 'Send answer' });
    const form = h(
      'form',
      { class: 'human-form', novalidate: true },
      h('label', { for: textId, text: `What ${name} says` }),
      text,
      h('p', { class: 'help', id: 'human-help', text: member.key_id && member.key_id !== session.identity.keyId ? 'You answer as a moderator on their behalf.' : 'Your words go into the transcript as this member’s turn.' }),
      asksRating
        ? h(
            'div',
            { class: 'grid2' },
            // Round 1 has no draft yet: its ratings are of the question as asked.
            h('div', { class: 'field-inline' }, h('label', { for: ratingId, text: p.draft ? 'Your rating of the draft (1–9)' : 'Your rating of the question as asked (1–9)' }), rating),
            h('div', { class: 'field-inline' }, h('label', { for: confId, text: 'Confidence' }), conf),
          )
        : null,
      errEl,
      h('div', { class: 'actions' }, send),
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      let body = text.value.trim();
      if (!body) {
        showFieldError(errEl, text, 'Write an answer first.');
        text.focus();
        return;
      }
      // The server reads a rating trailer from a human turn just as from a model's.
      if (asksRating && rating.value) body += `\n\nRATING: ${rating.value}/9${conf.value ? ` CONFIDENCE: ${conf.value}` : ''}`;
      send.disabled = true;
      send.textContent = 'Sending…';
      showFieldError(errEl, text, null);
      try {
        const payload = { member_id: pending.member_id, text: body };
        await this.command({ type: 'input', panel_id: this.panelId, ...payload }, `/v1/panels/${this.panelId}/input`, payload);
        send.textContent = 'Sent';
        announcer.say('Your answer was sent.');
      } catch (ex) {
        showFieldError(errEl, text, `Not sent: ${ex.message}`);
        send.disabled = false;
        send.textContent = 'Send answer';
        text.focus();
      }
    });
    const own = member.key_id && member.key_id === session.identity.keyId;
    appendAll(this.humanBox, h('h2', { id: 'human-turn-h', text: own ? `Your turn: ${name}` : `${name}’s turn: you can answer` }), deadlineLine, form);
    this.humanText = text;
    this.updateCountdown();
    // The person whose turn it is should be able to type at once, unless they are typing elsewhere.
    const active = document.activeElement;
    const typingElsewhere = active && active !== document.body && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
    const focusIt = !paused && (!typingElsewhere || hadFocus);
    if (focusIt) text.focus();
    announcer.say(`It is ${name}’s turn${focusIt ? '; the answer box has focus' : ''}.`);
  }

  updateCountdown() {
    if (!this.countdown || !this.deadline || this.humanBox.hidden) return;
    const left = this.deadline - Date.now();
    setText(this.countdown, left > 0 ? fmtDuration(left) : '0:00');
    this.countdown.dataset.urgent = left < 30000 ? 'true' : 'false';
    for (const mark of [60, 30, 10]) {
      if (left <= mark * 1000 && left > (mark - 2) * 1000 && !this.announcedAt.has(mark)) {
        this.announcedAt.add(mark);
        announcer.say(`${mark} seconds left to answer.`);
      }
    }
  }

  renderModBar(model) {
    const p = model.panel;
    const show = session.atLeast('moderator') && !TERMINAL.has(p.status);
    this.modBar.hidden = !show;
    if (!show) return;
    const live = p.status === 'running' || p.status === 'awaiting_human';
    const b = this.modButtons;
    b.pause.disabled = !live;
    b.resume.disabled = p.status !== 'paused';
    // The server also skips a waiting human while paused.
    b.skip_turn.disabled = !((live && p.current_turn) || ((live || p.status === 'paused') && p.pending_human));
    b.end_round.disabled = !(live || p.status === 'paused');
    b.finish.disabled = p.status === 'created';
    b.cancel.disabled = false;
  }

  renderCards(model) {
    const p = model.panel;
    const dissent = new Set((p.consensus && p.consensus.dissent) || []);
    const round = model.currentRound();
    for (const m of p.members) {
      let card = this.cards.get(m.id);
      if (!card) {
        card = this.buildCard(m);
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
      card.dissent.hidden = !dissent.has(m.id);
    }
  }

  buildCard(m) {
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
    const li = h(
      'li',
      { class: 'card', dataset: { member: m.id, kind: m.kind }, 'aria-labelledby': nameId },
      h('div', { class: 'card-head' }, h('h3', { class: 'card-name', id: nameId, text: m.name }), m.domain ? h('p', { class: 'card-domain', text: domainLabel(m.domain) }) : null, h('p', { class: 'card-tags' }, tags)),
      state,
      text,
      rating,
      dissent,
    );
    return { li, state, text, rating, dissent };
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

  renderRounds(model) {
    const p = model.panel;
    document.getElementById('rounds-empty').hidden = p.rounds.length > 0;
    for (const r of p.rounds) {
      let el = this.roundEls.get(r.round);
      if (!el) {
        el = this.buildRound(r);
        this.roundEls.set(r.round, el);
        this.roundList.append(el.li);
      }
      this.updateRound(model, r, el);
    }
  }

  buildRound(r) {
    const hId = `round-h-${r.round}`;
    const meta = h('p', { class: 'round-meta' });
    const chart = h('div', { class: 'round-chart' });
    const transcript = h('ol', { class: 'transcript', dataset: { round: r.round } });
    const summary = h('summary', { text: 'Transcript' });
    const details = h('details', { open: true }, summary, transcript);
    const li = h('li', { class: 'round', dataset: { round: r.round }, 'aria-labelledby': hId }, h('h3', { id: hId, text: `Round ${r.round} · ${PHASE_LABEL[r.phase] || r.phase}` }), meta, chart, details);
    return { li, meta, chart, transcript, summary, entries: 0, sig: null };
  }

  updateRound(model, r, el) {
    const p = model.panel;
    const c = model.roundConsensus.get(r.round);
    const sig = [r.turns.length, r.skipped.length, r.decision, r.stats && r.stats.median, c && c.level, p.status].join('|');
    if (sig === el.sig) return;
    el.sig = sig;
    // Transcript entries are appended in seq order and never redrawn: nothing shown twice.
    const entries = [...r.turns.map((t) => ({ ...t, kind: 'turn' })), ...r.skipped.map((x) => ({ ...x, kind: 'skip' }))].sort((a, b) => (a.seq || 0) - (b.seq || 0));
    for (const e of entries.slice(el.entries)) {
      const m = model.members.get(e.member_id);
      const name = model.memberName(e.member_id);
      if (e.kind === 'turn') {
        el.transcript.append(
          h(
            'li',
            { class: 'turn', dataset: { seq: e.seq, member: e.member_id } },
            h('p', { class: 'turn-head' }, h('strong', { text: name }), m && m.kind === 'human' ? h('span', { class: 'tag human', text: 'Human' }) : m && m.model === 'simulated' ? h('span', { class: 'tag sim', text: 'Simulated' }) : null, e.rating != null ? h('span', { class: 'turn-rating', text: `Rating ${e.rating}/9${e.confidence != null ? `, confidence ${fmtNum(e.confidence, 2)}` : ''}` }) : null, e.flags && e.flags.includes('invented_citation') ? h('span', { class: 'tag warn', text: 'Unverified citation' }) : null),
            h('p', { class: 'turn-text' }, citedNodes(e.text, e.citations, this.titleOf)),
            evidenceLine(e.evidence),
          ),
        );
      } else {
        el.transcript.append(h('li', { class: 'turn skipped', dataset: { seq: e.seq || '', member: e.member_id } }, h('p', { class: 'turn-head' }, h('strong', { text: name }), ` — turn skipped (${String(e.reason).replace(/_/g, ' ')})`)));
      }
    }
    el.entries = entries.length;
    setText(el.summary, `Transcript (${r.turns.length} turn${r.turns.length === 1 ? '' : 's'}${r.skipped.length ? `, ${r.skipped.length} skipped` : ''})`);

    clear(el.meta);
    const parts = [];
    if (r.decision) parts.push(h('span', { class: 'meta-item', text: `Outcome: ${DECISION_LABEL[r.decision] || r.decision}` }));
    else if (r === model.currentRound() && !TERMINAL.has(p.status)) parts.push(h('span', { class: 'meta-item', text: 'In progress' }));
    if (r.stats) parts.push(h('span', { class: 'meta-item', text: `Median ${fmtNum(r.stats.median)}, IQR ${fmtNum(r.stats.iqr)}, n = ${r.stats.n}` }));
    if (c) parts.push(h('span', { class: 'meta-item' }, 'Consensus level: ', h('span', { class: 'level', dataset: { level: c.level }, text: LEVEL_LABEL[c.level] || c.level }), ` (${Math.round(c.agreement * 100)}% agreement)`));
    appendAll(el.meta, parts);

    const rated = r.turns.filter((t) => t.rating != null).map((t) => ({ memberId: t.member_id, name: model.memberName(t.member_id), rating: t.rating, confidence: t.confidence }));
    clear(el.chart);
    if (rated.length) {
      const dissent = new Set((c && c.dissent) || []);
      const title = `Ratings in round ${r.round}: ${rated.length} member${rated.length === 1 ? '' : 's'}${r.stats ? `, median ${fmtNum(r.stats.median)}, IQR ${fmtNum(r.stats.iqr)}` : ''}`;
      const { svg, q1, q3, median } = ratingsChart({ ratings: rated, stats: r.stats, dissent, title });
      el.chart.append(
        h(
          'figure',
          { class: 'chart-figure' },
          svg,
          h('figcaption', {}, `Dots: each member’s rating on 1–9 (outlined: dissent). Band: interquartile range ${fmtNum(q1)}–${fmtNum(q3)}. Line: median ${fmtNum(median)}.`),
        ),
      );
    }
  }

  renderActivity(model) {
    const items = model.activity;
    for (const a of items.slice(this.activityCount)) {
      this.activityList.append(h('li', {}, h('time', { datetime: a.ts, text: timeOnly.format(new Date(a.ts)) }), ' ', a.text));
    }
    this.activityCount = items.length;
  }
}
