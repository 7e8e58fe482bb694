// The Administration console (#/admin, admins only; docs/administration.md):
// one screen, a tab per part of the organisation's set-up, each its own
// address so it survives a reload and the back button: API keys
// (admin-keys.js), branding with its live preview (admin-branding.js),
// usage and limits (admin-usage.js), the defaults of new panels
// (admin-defaults.js) and the experts (the Experts screen, linked). Anyone
// else is told it is for admins; the server refuses them anyway (403).

import { h } from './dom.js';
import { api } from './api.js';
import { session } from './session.js';
import { keysTab } from './admin-keys.js';
import { brandingTab } from './admin-branding.js';
import { usageTab } from './admin-usage.js';
import { defaultsTab } from './admin-defaults.js';
import { adminsOnlyView, mountView, notFoundView } from './view.js';

const TABS = [
  { id: 'keys', label: 'API keys', make: () => keysTab() },
  { id: 'branding', label: 'Branding', make: () => brandingTab() },
  { id: 'usage', label: 'Usage and limits', make: (params) => usageTab(params) },
  { id: 'defaults', label: 'Panel defaults', make: () => defaultsTab() },
  { id: 'experts', label: 'Experts', make: () => expertsTab() },
];

/**
 * The Experts tab: the catalog has its own screen (experts.js); here, what
 * the organisation has made of it, and the way there.
 */
function expertsTab() {
  let destroyed = false;
  const facts = h('p', { id: 'admin-experts-facts', role: 'status', text: 'Counting the experts…' });
  api('GET', '/v1/experts?limit=200&include_hidden=true')
    .then((data) => {
      if (destroyed) return;
      const items = (data && data.items) || [];
      const count = (pred) => items.filter(pred).length;
      const own = count((e) => e.scope === 'tenant' && !e.archived);
      const seatable = count((e) => !e.hidden && !e.archived);
      facts.textContent = `${seatable} expert${seatable === 1 ? '' : 's'} may be seated: ${own} of your organisation’s own. ${count((e) => e.preferred)} preferred, ${count((e) => e.hidden)} hidden, ${count((e) => e.archived)} archived.`;
    })
    .catch((ex) => {
      if (!destroyed) facts.textContent = `Could not count the experts: ${ex.message}`;
    });
  const el = h(
    'section',
    { class: 'people-section', 'aria-labelledby': 'admin-experts-h' },
    h('h2', { id: 'admin-experts-h', text: 'Experts' }),
    h('p', { class: 'help', text: 'Panels are seated from the platform’s catalog and your organisation’s own experts. Hide an expert to keep it off new panels, prefer one to favour it, or add your own.' }),
    facts,
    h('p', {}, h('a', { class: 'btn btn-primary', id: 'admin-experts-open', href: '#/experts', text: 'Open the Experts screen' })),
  );
  return {
    el,
    destroy() {
      destroyed = true;
    },
  };
}

/**
 * Mounts the console on `tab` ('' for the first); returns { destroy } for
 * the router, or null when nothing is loading.
 */
export function adminView(tab, params) {
  if (!session.isAdmin()) {
    adminsOnlyView('Administration');
    return null;
  }
  const current = tab ? TABS.find((t) => t.id === tab) : TABS[0];
  if (!current) {
    notFoundView('Not found', 'The Administration console has no such tab.');
    return null;
  }
  const view = current.make(params);
  const tabs = h(
    'nav',
    { class: 'admin-tabs', id: 'admin-tabs', 'aria-label': 'Administration' },
    h(
      'ul',
      {},
      TABS.map((t) => h('li', {}, h('a', { href: `#/admin/${t.id}`, id: `admin-tab-${t.id}`, 'aria-current': t === current ? 'page' : null, text: t.label }))),
    ),
  );
  mountView(
    `${current.label} · Administration`,
    h(
      'section',
      { class: 'admin-view', dataset: { tab: current.id } },
      h('div', { class: 'view-head' }, h('h1', { id: 'admin-h', text: 'Administration' })),
      tabs,
      view.el,
    ),
  );
  return view;
}
