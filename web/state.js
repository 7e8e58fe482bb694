// Shared page state, with no imports: the `app` object and the debug counters.
//
// `app` holds what the screens share: the live connection, the current view,
// how many times the page has routed. The entry module (app.js) installs its
// methods (conn, dropConnection, showConnState, signIn, startPerson,
// showSignedIn, signOut, signOutPerson, restart, route, boot)
// before start-up, so lower modules call them at run time without importing
// app.js: imports only ever point down, never in a cycle.

export const app = {
  connection: null,
  current: null,
  routed: 0,
};

/** Counters the e2e tests read through window.__askpanel. */
export const debugStats = { eventsApplied: 0, duplicateEvents: 0, gaps: 0, turnsChecked: 0, streamMismatches: 0, tokenGaps: 0, resubscribes: 0 };
