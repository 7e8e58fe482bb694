// The moderator bar of a running panel: pause, resume, skip the turn, end the
// round, finish, cancel (after a confirmation), and inject a question or
// instruction. Commands go over the socket when it is up, else over HTTP.

import { h } from './dom.js';
import { TERMINAL } from './format.js';
import { api } from './api.js';
import { app } from './state.js';

/** Sends over the socket when it is up (the ack is immediate), else over HTTP. */
export async function sendCommand(frame, path, body) {
  if (app.conn().isOpen()) {
    try {
      return await app.conn().request(frame);
    } catch (e) {
      if (e.code) throw e; // the server refused: HTTP would refuse too
    }
  }
  return api('POST', path, body);
}

export class ModBar {
  constructor(panelId) {
    this.panelId = panelId;
    this.el = this.build();
  }

  build() {
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

  async moderate(action, text) {
    const label = { pause: 'Pause', resume: 'Resume', skip_turn: 'Skip', end_round: 'End round', finish: 'Finish', cancel: 'Cancel', inject: 'Inject' }[action];
    this.modMsg.textContent = `${label}: sending…`;
    try {
      const body = text ? { action, text } : { action };
      await sendCommand({ type: 'moderate', panel_id: this.panelId, ...body }, `/v1/panels/${this.panelId}/moderate`, body);
      this.modMsg.textContent = `${label}: done.`;
      return true;
    } catch (e) {
      this.modMsg.textContent = `${label} failed: ${e.message}`;
      return false;
    }
  }

  /** `allowed`: the caller may moderate (a moderator's key, not a shared view). */
  update(model, allowed) {
    const p = model.panel;
    const show = allowed && !TERMINAL.has(p.status);
    this.el.hidden = !show;
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
}
