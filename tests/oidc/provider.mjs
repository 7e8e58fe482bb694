// A local OpenID Connect provider for the single sign-on tests
// (tests/api/sso.rs): oauth2-mock-server with an RS256 key, discovery,
// PKCE and nonces. Whoever asks to sign in with `login_hint=ADDRESS` is
// that address: the ID token says `sub` "sub-ADDRESS" and `email`
// ADDRESS, verified unless the address starts with "unverified".
// Prints "ISSUER <url>" once it listens on 127.0.0.1 (an unused port).

import { Events, OAuth2Server } from 'oauth2-mock-server';

const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');

const hints = new Map();
server.service.on(Events.BeforeAuthorizeRedirect, (redirect, req) => {
  const hint = new URL(req.url, 'http://127.0.0.1').searchParams.get('login_hint');
  const code = redirect.url.searchParams.get('code');
  if (hint && code) hints.set(code, hint);
});
server.service.on(Events.BeforeTokenSigning, (token, req) => {
  const hint = req.body && hints.get(req.body.code);
  if (!hint) return;
  token.payload.sub = `sub-${hint}`;
  token.payload.email = hint;
  token.payload.email_verified = !hint.startsWith('unverified');
});

await server.start(0, '127.0.0.1');
// The address it listens on, not "localhost" (which may mean ::1 first).
server.issuer.url = `http://127.0.0.1:${server.address().port}`;
console.log(`ISSUER ${server.issuer.url}`);
process.on('SIGTERM', () => server.stop().then(() => process.exit(0)));
