// Sharing (moderators): a read-only link to one panel for people without a
// key. Create one with an expiry, copy it (the server shows its token once),
// and see or revoke the panel's links, expired and revoked ones included.

import { announcer, appendAll, clear, h } from './dom.js';
import { fmtDate } from './format.js';
import { api } from './api.js';

const DAY_S = 86400;
const EXPIRY_CHOICES = [
  [DAY_S, '1 day'],
  [7 * DAY_S, '7 days'],
  [30 * DAY_S, '30 days'],
];

/** "active", "expired" or "revoked", as of now. */
function shareState(share) {
  if (share.revoked_at) return 'revoked';
  if (share.expires_at && Date.parse(share.expires_at) <= Date.now()) return 'expired';
  return 'active';
}

const STATE_TEXT = { active: 'Active', expired: 'Expired', revoked: 'Revoked' };

/**
 * The Share section of panel `panelId`. A key the server refuses (not a
 * moderator after all) hides it.
 */
export function shareSection(panelId) {
  const base = `/v1/panels/${panelId}/shares`;
  const msg = h('p', { class: 'share-msg', id: 'share-msg', role: 'status' });
  const list = h('ul', { class: 'share-list', id: 'share-list', 'aria-labelledby': 'share-list-h' });
  const listHead = h('h3', { id: 'share-list-h', text: 'Links to this panel' });
  const expiry = h('select', { id: 'share-expiry', name: 'expires_in_s' }, EXPIRY_CHOICES.map(([s, label]) => h('option', { value: s, text: label, selected: s === 7 * DAY_S })));
  const label = h('input', { type: 'text', id: 'share-label', name: 'label', maxlength: 100, autocomplete: 'off', 'aria-describedby': 'share-label-help' });
  const create = h('button', { type: 'submit', class: 'btn btn-primary', id: 'share-create', text: 'Create link' });
  const urlInput = h('input', { type: 'text', id: 'share-url', readonly: true, 'aria-describedby': 'share-url-help' });
  const copyMsg = h('p', { class: 'help', id: 'share-copy-msg', role: 'status' });
  const copy = h('button', { type: 'button', class: 'btn', id: 'share-copy', text: 'Copy link', onclick: () => copyLink() });
  const created = h(
    'div',
    { class: 'share-created', id: 'share-created', hidden: true },
    h('label', { for: 'share-url', text: 'The new link' }),
    h('div', { class: 'inline-row' }, urlInput, copy),
    h('p', { class: 'help', id: 'share-url-help', text: 'Copy it now: it is shown only this once. Anyone who has it can read this panel until it expires or is revoked.' }),
    copyMsg,
  );
  const form = h(
    'form',
    { class: 'share-form', novalidate: true },
    h('div', { class: 'field-inline' }, h('label', { for: 'share-expiry', text: 'Expires after' }), expiry),
    h('div', { class: 'field-inline' }, h('label', { for: 'share-label', text: 'Label (optional)' }), label, h('p', { class: 'help', id: 'share-label-help', text: 'Who the link is for, say; only moderators see it.' })),
    h('div', { class: 'actions' }, create),
  );
  const section = h(
    'section',
    { class: 'share', id: 'share', 'aria-labelledby': 'share-h' },
    h('h2', { id: 'share-h', class: 'small-h', text: 'Share a read-only link' }),
    h('p', { class: 'help', text: 'People with the link see this panel and its report, live while it runs, without signing in. They see nothing else of your organisation.' }),
    form,
    created,
    msg,
    listHead,
    list,
  );

  async function copyLink() {
    urlInput.select();
    try {
      await navigator.clipboard.writeText(urlInput.value);
      copyMsg.textContent = 'Copied.';
    } catch {
      // No clipboard access (an insecure origin, a refused permission): the link is selected for the person to copy.
      copyMsg.textContent = 'The link is selected: copy it with Ctrl+C (⌘C on a Mac).';
    }
  }

  function row(share) {
    const state = shareState(share);
    const name = share.label || 'Link without a label';
    const revoke =
      state === 'active'
        ? h('button', {
            type: 'button',
            class: 'btn btn-small btn-danger',
            'aria-label': `Revoke ${name}`,
            text: 'Revoke',
            onclick: async (e) => {
              const btn = e.currentTarget;
              btn.disabled = true;
              msg.textContent = 'Revoking the link…';
              try {
                await api('DELETE', `${base}/${share.id}`);
                msg.textContent = `Revoked: ${name}. It no longer opens the panel.`;
                await load();
                // The revoked row is redrawn: keep the keyboard in the list.
                listHead.setAttribute('tabindex', '-1');
                listHead.focus();
              } catch (ex) {
                msg.textContent = `Could not revoke the link: ${ex.message}`;
                btn.disabled = false;
              }
            },
          })
        : null;
    return h(
      'li',
      { class: 'share-row', dataset: { id: share.id, state } },
      h('p', { class: 'share-name' }, h('strong', { text: name }), ' ', h('span', { class: 'badge share-state', dataset: { state }, text: STATE_TEXT[state] })),
      h(
        'p',
        { class: 'share-meta' },
        `Created ${fmtDate(share.created_at)}`,
        state === 'revoked' ? ` · revoked ${fmtDate(share.revoked_at)}` : ` · ${state === 'expired' ? 'expired' : 'expires'} ${fmtDate(share.expires_at)}`,
      ),
      revoke,
    );
  }

  async function load() {
    try {
      const data = await api('GET', base);
      clear(list);
      const items = (data && data.items) || [];
      appendAll(list, items.map(row));
      listHead.hidden = !items.length;
    } catch (e) {
      if (e.status === 403) section.hidden = true;
      else msg.textContent = `Could not load the links: ${e.message}`;
    }
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    create.disabled = true;
    msg.textContent = 'Creating the link…';
    const body = { expires_in_s: Number(expiry.value) };
    if (label.value.trim()) body.label = label.value.trim();
    try {
      const share = await api('POST', base, body);
      // `url` is the page's address for the token (/#/shared/<token>): made absolute here.
      urlInput.value = new URL(share.url, location.origin).href;
      created.hidden = false;
      copyMsg.textContent = '';
      label.value = '';
      msg.textContent = `Link created; it expires ${fmtDate(share.expires_at)}.`;
      announcer.say('Link created. Copy it now: it is shown only once.');
      urlInput.focus();
      urlInput.select();
      await load();
    } catch (ex) {
      msg.textContent = `Could not create the link: ${ex.message}`;
    } finally {
      create.disabled = false;
    }
  });

  listHead.hidden = true;
  load();
  return section;
}
