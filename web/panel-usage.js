// A finished panel's usage, in the panel view's side column: tokens in and
// out, turns, model calls and how long it ran, with the figures by member a
// click away (GET /v1/panels/{id}/usage, docs/administration.md). Asked
// once, when the panel has ended: never per token. Not on share links (the
// panel view makes none there). A server without the figures (404) shows nothing.

import { h } from './dom.js';
import { api } from './api.js';
import { fmtCount, fmtSpan } from './usage-chart.js';

export class PanelUsage {
  constructor(panelId) {
    this.panelId = panelId;
    this.asked = false;
    this.el = h('section', { class: 'panel-usage', id: 'panel-usage', hidden: true, 'aria-labelledby': 'panel-usage-h' });
  }

  /** Fetches the figures the first time it is called; later calls do nothing. */
  async load() {
    if (this.asked) return;
    this.asked = true;
    let u;
    try {
      u = await api('GET', `/v1/panels/${encodeURIComponent(this.panelId)}/usage`);
    } catch (e) {
      if (e.status === 404) return;
      this.el.append(h('h2', { id: 'panel-usage-h', class: 'small-h', text: 'Usage' }), h('p', { class: 'help', text: `The figures could not be loaded: ${e.message}` }));
      this.el.hidden = false;
      return;
    }
    this.render(u);
  }

  render(u) {
    const members = (u.by_member || []).filter((m) => m.turns || m.tokens_in || m.tokens_out);
    const item = (key, text) => h('li', { dataset: { figure: key }, text });
    this.el.dataset.tokensIn = String(u.tokens_in);
    this.el.dataset.tokensOut = String(u.tokens_out);
    this.el.dataset.turns = String(u.turns);
    this.el.append(
      h('h2', { id: 'panel-usage-h', class: 'small-h', text: 'Usage' }),
      h(
        'ul',
        { class: 'usage-line', id: 'panel-usage-line' },
        item('tokens_in', `${fmtCount(u.tokens_in)} tokens in`),
        item('tokens_out', `${fmtCount(u.tokens_out)} tokens out`),
        item('turns', `${fmtCount(u.turns)} turn${u.turns === 1 ? '' : 's'}`),
        u.model_calls !== undefined ? item('model_calls', `${fmtCount(u.model_calls)} model call${u.model_calls === 1 ? '' : 's'}`) : null,
        item('duration_ms', `ran ${fmtSpan(u.duration_ms)}`),
      ),
      members.length
        ? h(
            'details',
            { class: 'usage-members', id: 'panel-usage-members' },
            h('summary', { text: 'By member' }),
            h(
              'table',
              { class: 'round-figures' },
              h('caption', { class: 'visually-hidden', text: 'Usage by member' }),
              h('thead', {}, h('tr', {}, ['Member', 'Turns', 'Tokens in', 'Tokens out'].map((c) => h('th', { scope: 'col', text: c })))),
              h(
                'tbody',
                {},
                members.map((m) => h('tr', { dataset: { member: m.member_id } }, h('th', { scope: 'row', text: `${m.name}${m.kind === 'human' ? ' (human)' : ''}` }), [m.turns, m.tokens_in, m.tokens_out].map((v) => h('td', { class: 'num', text: fmtCount(v) })))),
              ),
            ),
          )
        : null,
    );
    this.el.hidden = false;
  }
}
