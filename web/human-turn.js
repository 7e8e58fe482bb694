// A human member's turn in a running panel: the countdown to the deadline,
// and, for the people who may speak for that member (the member's own key,
// or a moderator), the answer box with its rating. Everyone else sees whose
// turn it is.

import { announcer, appendAll, clear, h, setText } from './dom.js';
import { fmtDuration, timeOnly } from './format.js';
import { session } from './session.js';
import { sendCommand } from './moderation.js';
import { showFieldError } from './view.js';

export class HumanTurn {
  /** `title`: where the keyboard goes when the box closes under it; `readOnly`: a shared view, which never answers. */
  constructor({ panelId, title, readOnly }) {
    this.panelId = panelId;
    this.title = title;
    this.readOnly = readOnly;
    this.sig = null;
    this.text = null;
    this.announcedAt = new Set();
    this.box = h('section', { class: 'human-turn', id: 'human-turn', hidden: true, 'aria-labelledby': 'human-turn-h' });
  }

  canSpeakFor(member) {
    if (this.readOnly || !member || member.kind !== 'human') return false;
    if (session.atLeast('moderator')) return true;
    if (!session.atLeast('member')) return false;
    // A seat held by a person is theirs; one held by a key, that key's.
    if (member.user_id) return member.user_id === session.identity.userId;
    return !member.key_id || member.key_id === session.identity.keyId;
  }

  /** Whether the seat is the caller's own (by key or as a person), not answered on someone's behalf. */
  isOwnSeat(member) {
    return Boolean((member.key_id && member.key_id === session.identity.keyId) || (member.user_id && member.user_id === session.identity.userId));
  }

  render(model) {
    const p = model.panel;
    const pending = p.pending_human;
    const sig = pending ? `${pending.request_seq}|${p.status}` : null;
    if (sig === this.sig) return;
    const hadFocus = this.box.contains(document.activeElement);
    const keepText = this.text && pending && this.memberId === pending.member_id ? this.text.value : '';
    this.sig = sig;
    clear(this.box);
    this.text = null;
    if (!pending) {
      this.box.hidden = true;
      if (hadFocus) this.title.focus();
      return;
    }
    const member = model.members.get(pending.member_id);
    const name = member ? member.name : 'the human member';
    const round = model.currentRound();
    this.deadline = Date.parse(pending.deadline);
    this.countdown = h('span', { class: 'countdown', role: 'timer', 'aria-live': 'off', id: 'countdown' });
    this.announcedAt = new Set();
    this.box.hidden = false;
    this.memberId = pending.member_id;
    const paused = p.status === 'paused';
    const deadlineLine = h('p', { class: 'deadline' }, paused ? 'The panel is paused; the deadline starts again when it resumes. ' : `Answer by ${timeOnly.format(new Date(this.deadline))} · `, paused ? null : this.countdown, paused ? null : ' left');
    if (!this.canSpeakFor(member)) {
      appendAll(this.box, h('h2', { id: 'human-turn-h', text: `${name}’s turn` }), h('p', { text: `Waiting for ${name} to answer.` }), deadlineLine);
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
      h('p', { class: 'help', id: 'human-help', text: (member.key_id || member.user_id) && !this.isOwnSeat(member) ? 'You answer as a moderator on their behalf.' : 'Your words go into the transcript as this member’s turn.' }),
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
        await sendCommand({ type: 'input', panel_id: this.panelId, ...payload }, `/v1/panels/${this.panelId}/input`, payload);
        send.textContent = 'Sent';
        announcer.say('Your answer was sent.');
      } catch (ex) {
        showFieldError(errEl, text, `Not sent: ${ex.message}`);
        send.disabled = false;
        send.textContent = 'Send answer';
        text.focus();
      }
    });
    const own = this.isOwnSeat(member);
    appendAll(this.box, h('h2', { id: 'human-turn-h', text: own ? `Your turn: ${name}` : `${name}’s turn: you can answer` }), deadlineLine, form);
    this.text = text;
    this.updateCountdown();
    // The person whose turn it is should be able to type at once, unless they are typing elsewhere.
    const active = document.activeElement;
    const typingElsewhere = active && active !== document.body && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
    const focusIt = !paused && (!typingElsewhere || hadFocus);
    if (focusIt) text.focus();
    announcer.say(`It is ${name}’s turn${focusIt ? '; the answer box has focus' : ''}.`);
  }

  updateCountdown() {
    if (!this.countdown || !this.deadline || this.box.hidden) return;
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
}
