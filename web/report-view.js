// A finished panel's summary, first on its page: the recommendation with its
// conditions, the level of agreement explained in words, each dissenter with
// their strongest argument, the consensus across rounds (chart and figures),
// and the report's buttons (Markdown, PDF, print). Drawn from the report JSON
// (docs/records.md) so every figure is the report's rounded one; until it
// arrives, or on a server without reports, the live outcome stands in.

import { announcer, appendAll, clear, h } from './dom.js';
import { DECISION_LABEL, LEVEL_LABEL, METHOD_LABEL, PHASE_LABEL } from './format.js';
import { api, fetchFile } from './api.js';
import { recommendationNodes, sourcesList } from './citations.js';
import { ideasNodes, renderOutcomeInto, verdictNodes } from './outcome.js';
import { consensusChart, figure } from './report-chart.js';

const REPORT_RETRY_MS = 1000;
const FORMAT_NAME = { md: 'Markdown', pdf: 'PDF' };

/**
 * The summary section of one finished panel. `source` says where its report
 * is: { reportPath, filePath(format), fileName(format), anonymous } (a shared
 * link's calls go without the Authorization header). `extra`: nodes shown
 * with the report's buttons (the follow-up controls). `onChange` asks the
 * view to render again once the report has arrived.
 */
export class ReportSummary {
  constructor({ el, source, extra = [], onChange }) {
    this.el = el;
    this.source = source;
    this.onChange = onChange;
    this.state = 'idle';
    this.report = null;
    this.error = null;
    this.sig = null;
    this.main = h('div', { class: 'summary-main' });
    this.side = h('div', { class: 'summary-side' });
    this.msg = h('p', { class: 'report-msg', id: 'report-msg', role: 'status' });
    const button = (id, text, onclick) => h('button', { type: 'button', class: 'btn', id, text, onclick });
    this.buttons = {
      md: button('download-md', 'Download Markdown', () => this.download('md')),
      pdf: button('download-pdf', 'Download PDF', () => this.download('pdf')),
    };
    const tools = h(
      'div',
      { class: 'summary-tools' },
      h('div', { class: 'report-actions', role: 'group', 'aria-label': 'The report' }, this.buttons.md, this.buttons.pdf, button('print-report', 'Print', () => window.print())),
      this.msg,
      extra,
    );
    appendAll(el, h('div', { class: 'summary-grid' }, this.main, tools, this.side));
  }

  /** Fetches the report once; a page that saw the end a moment before the store has it asks once more. */
  async load() {
    this.state = 'loading';
    const opts = this.source.anonymous ? { key: null } : {};
    try {
      let report = await api('GET', this.source.reportPath, undefined, opts);
      if (report && ['running', 'created', 'paused', 'awaiting_human'].includes(report.status)) {
        await new Promise((r) => setTimeout(r, REPORT_RETRY_MS));
        report = await api('GET', this.source.reportPath, undefined, opts);
      }
      this.report = report;
      this.state = 'ready';
    } catch (e) {
      // 404 for a panel the page can see: a server without reports; the live outcome says it all.
      this.error = e.status === 404 ? null : e.message;
      this.state = 'failed';
    }
    this.onChange();
  }

  /** Renders from the model and, once there, the report; redrawn only when either changes. */
  update(model) {
    if (this.state === 'idle') this.load();
    const p = model.panel;
    const sig = [this.state, p.status, p.recommendation, JSON.stringify(p.sources || []), p.verdict && p.verdict.winner, p.ideas.length, p.error].join('|');
    if (sig === this.sig) return;
    this.sig = sig;
    clear(this.main);
    clear(this.side);
    if (this.report) {
      this.renderMain(model, this.report);
      this.renderSide(model, this.report);
      this.el.setAttribute('aria-labelledby', 'summary-h');
      return;
    }
    renderOutcomeInto(this.main, model);
    this.el.setAttribute('aria-labelledby', 'outcome-h');
    if (this.state === 'loading') this.main.append(h('p', { class: 'help', text: 'Loading the report…' }));
    if (this.error) this.main.append(h('p', { class: 'help', text: `The report could not be loaded: ${this.error}` }));
  }

  renderMain(model, r) {
    const p = model.panel;
    const title = p.status === 'completed' ? 'Final recommendation' : p.status === 'failed' ? 'The panel failed' : 'The panel was cancelled';
    this.main.append(h('h2', { id: 'summary-h', text: title }));
    // The model's text is the panel's own (with its citation buttons); the report's is the same words.
    const text = p.recommendation != null ? p.recommendation : r.recommendation && r.recommendation.text;
    if (text != null) this.main.append(h('div', { class: 'recommendation final', id: 'recommendation' }, h('p', {}, recommendationNodes(text, p.sources))));
    else this.main.append(h('p', { class: 'help', text: 'This panel ended without a recommendation.' }));
    const conditions = (r.recommendation && r.recommendation.conditions) || [];
    if (conditions.length) {
      this.main.append(h('h3', { id: 'conditions-h', text: 'Conditions' }), h('ul', { class: 'conditions', id: 'conditions', 'aria-labelledby': 'conditions-h' }, conditions.map((c) => h('li', { text: c }))));
    }
    const sources = sourcesList(p.sources);
    if (sources) this.main.append(sources);
    if (model.completionReason) this.main.append(h('p', { class: 'help', text: `The panel ended: ${DECISION_LABEL[model.completionReason] || model.completionReason}.` }));
    const verdict = p.verdict || r.verdict;
    if (verdict) appendAll(this.main, verdictNodes(verdict));
    if (p.ideas && p.ideas.length) appendAll(this.main, ideasNodes(p.ideas));
  }

  renderSide(model, r) {
    const o = r.outcome;
    const nameOf = (id) => {
      const m = (r.members || []).find((x) => x.id === id);
      return m ? m.name : model.memberName(id);
    };
    if (o) {
      this.side.append(
        h('h3', { text: 'Agreement' }),
        h(
          'dl',
          { class: 'consensus', id: 'consensus' },
          h('dt', { text: 'Level' }),
          h('dd', {}, h('span', { class: 'level', dataset: { level: o.level }, text: LEVEL_LABEL[o.level] || o.level }), `, ${pct(o.agreement_pct)} agreement`),
          h('dt', { text: 'Median rating' }),
          h('dd', { text: `${figure(o.median)} of 9 (IQR ${figure(o.iqr)}, n = ${o.n})` }),
          h('dt', { text: 'Measured' }),
          h('dd', { text: `after round ${o.round}, ${METHOD_LABEL[o.method] || o.method}` }),
        ),
        o.explanation ? h('p', { class: 'explanation', id: 'level-explanation', text: o.explanation }) : null,
      );
      this.side.append(h('h3', { id: 'dissent-h', text: 'Dissent' }));
      const dissent = r.dissent || [];
      if (dissent.length) {
        this.side.append(
          h(
            'ul',
            { class: 'dissent-list', id: 'dissent', 'aria-labelledby': 'dissent-h' },
            dissent.map((d) =>
              h(
                'li',
                { class: 'dissenter', dataset: { member: d.member_id } },
                h('p', { class: 'dissenter-head' }, h('strong', { text: d.name || nameOf(d.member_id) }), d.rating != null ? ` rated ${d.rating} of 9` : null),
                h('p', { class: 'argument-label', text: `Strongest argument (round ${d.round}):` }),
                h('blockquote', { class: 'argument' }, h('p', { text: d.argument })),
              ),
            ),
          ),
        );
      } else {
        this.side.append(h('p', { class: 'help', id: 'dissent', text: o.level === 'uncertain' ? 'None: the panel took no side, so nobody is on the other side of it.' : 'None: nobody rated on the other side of the panel’s position.' }));
      }
    }
    this.renderRounds(r, nameOf);
  }

  renderRounds(r, nameOf) {
    const rounds = r.rounds || [];
    const dissent = new Set((r.dissent || []).map((d) => d.member_id));
    const svg = consensusChart({ rounds, nameOf, dissent, dissentRound: r.outcome ? r.outcome.round : null, title: `Ratings by round (${rounds.length} round${rounds.length === 1 ? '' : 's'})` });
    if (!svg) return;
    this.side.append(
      h('h3', { id: 'consensus-chart-h', text: 'Consensus across rounds' }),
      h(
        'figure',
        { class: 'chart-figure rounds-figure', id: 'consensus-chart', 'aria-labelledby': 'consensus-chart-h' },
        svg,
        h('figcaption', { text: 'Dots: each member’s rating on 1–9 (outlined: dissent in the final consensus). Band: interquartile range. Line: the median, round by round.' }),
      ),
      h(
        'div',
        { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'Figures by round (scrolls sideways)' },
        h(
          'table',
          { class: 'round-figures', id: 'round-figures' },
          h('caption', { text: 'Figures by round' }),
          h('thead', {}, h('tr', {}, ['Round', 'Median', 'IQR', 'n', 'Agreement', 'Level', 'Decision'].map((c) => h('th', { scope: 'col', text: c })))),
          h(
            'tbody',
            {},
            rounds.map((x) =>
              h(
                'tr',
                { dataset: { round: x.round } },
                h('th', { scope: 'row', title: PHASE_LABEL[x.phase] || x.phase, text: String(x.round) }),
                h('td', { class: 'num', text: figure(x.median) }),
                h('td', { class: 'num', text: figure(x.iqr) }),
                h('td', { class: 'num', text: x.n ? String(x.n) : '–' }),
                h('td', { class: 'num', text: x.agreement_pct != null ? pct(x.agreement_pct) : '–' }),
                h('td', { text: x.level ? LEVEL_LABEL[x.level] || x.level : '–' }),
                h('td', { text: x.decision ? x.decision.replace(/_/g, ' ') : '–' }),
              ),
            ),
          ),
        ),
      ),
    );
  }

  async download(format) {
    const btn = this.buttons[format];
    btn.disabled = true;
    this.msg.textContent = `Preparing the ${FORMAT_NAME[format]} file…`;
    try {
      const { blob, filename } = await fetchFile(this.source.filePath(format), this.source.fileName(format), this.source.anonymous ? { key: null } : {});
      saveBlob(blob, filename);
      this.msg.textContent = `Downloaded ${filename}.`;
    } catch (e) {
      this.msg.textContent = `Could not download the ${FORMAT_NAME[format]} file: ${e.message}`;
      announcer.say(this.msg.textContent);
    } finally {
      btn.disabled = false;
    }
  }
}

/** "92%" from the report's whole percentage (a number; a string passes as it is). */
function pct(v) {
  if (typeof v === 'string') return v.endsWith('%') ? v : `${v}%`;
  return v == null ? '–' : `${v}%`;
}

/** Saves a Blob as a file through a temporary <a download>. */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  // The browser has taken the file by then; the URL would otherwise live as long as the page.
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/**
 * Printing shows everything: collapsed sections (the transcript) open for
 * the print and close again after. The print stylesheet (style.css,
 * `@media print`) hides the navigation and the buttons.
 */
export function installPrintSupport() {
  window.addEventListener('beforeprint', () => {
    for (const d of document.querySelectorAll('#view details:not([open])')) {
      d.dataset.printOpened = 'true';
      d.open = true;
    }
  });
  window.addEventListener('afterprint', () => {
    for (const d of document.querySelectorAll('#view details[data-print-opened]')) {
      delete d.dataset.printOpened;
      d.open = false;
    }
  });
}
