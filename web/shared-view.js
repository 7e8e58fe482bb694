// The shared view (#/shared/<token>): one panel, read-only, for someone
// without a key. The same panel view as a signed-in person's (summary first
// once finished, followed live while it runs) with no moderator controls,
// no input, no sign-in prompt and no link into the rest of the page; its
// report and downloads come through the link's own addresses. The page
// wears the sharing organisation's branding (name, colours, logo), which the
// link's answer carries (docs/administration.md).

import { h } from './dom.js';
import { applyBranding } from './session.js';
import { LiveView } from './panel-view.js';
import { SharedFeed } from './shared-feed.js';
import { mountView } from './view.js';

/** Mounts the shared view of `token`; returns it (the router destroys it on leaving). */
export function sharedView(token) {
  const base = `/v1/shared/${encodeURIComponent(token)}`;
  return new LiveView(null, {
    shared: {
      makeFeed: (onChange) =>
        new SharedFeed(token, onChange, {
          // Only while the page still shows the link (the router restores the page's own on leaving).
          onOpened: (data) => {
            if (document.body.dataset.mode === 'shared') applyBranding(data.branding || null);
          },
        }),
      report: (panelId) => ({
        reportPath: `${base}/report?format=json`,
        filePath: (format) => `${base}/report?format=${format}`,
        fileName: (format) => `askpanel-${panelId}.${format}`,
        anonymous: true,
      }),
      notFound: invalidLinkView,
    },
  });
}

/** An unknown, revoked or expired link (or one of a suspended organisation): the server says only 404. */
export function invalidLinkView() {
  mountView(
    'Link not valid',
    h(
      'section',
      { class: 'not-found', id: 'not-found', dataset: { shared: 'invalid' } },
      h('h1', { text: 'Link not valid' }),
      h('p', { id: 'shared-invalid', text: 'This link is not valid or has been revoked.' }),
      h('p', { class: 'help', text: 'Links expire after a while. Ask the person who shared it for a new one.' }),
    ),
  );
}
