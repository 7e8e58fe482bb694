//! People through the real server (docs/accounts.md): the platform admin
//! gives a tenant its first admin; people sign in with a password and use
//! the API with the session cookie (CSRF token on every state change);
//! invitations and password resets arrive by email (a sink the test runs)
//! and work once; brute force is slowed per address and locked per
//! account; admins change roles and remove people, never the last admin;
//! every tenant sees only its own people.

use reqwest::header::{COOKIE, HeaderMap, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::smtp::SmtpSink;

const PASSWORD: &str = "correct horse battery staple";

/// A signed-in browser: its cookie and CSRF token.
#[derive(Clone, Debug)]
pub struct Person {
    pub cookie: String,
    pub csrf: String,
    pub user_id: String,
}

/// A request with a session cookie (and the CSRF header when given).
pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let mut request = app.client.request(method, app.url(path)).header(COOKIE, cookie);
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request sent");
    let (status, headers) = (response.status(), response.headers().clone());
    let text = response.text().await.unwrap();
    (
        status,
        headers,
        if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) },
    )
}

impl Person {
    pub async fn send(&self, app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (status, _, body) = call(app, method, path, &self.cookie, Some(&self.csrf), body).await;
        (status, body)
    }
}

/// The `name=value` of a `Set-Cookie`.
fn cookie_of(headers: &HeaderMap) -> Option<String> {
    let set = headers.get(SET_COOKIE)?.to_str().ok()?;
    Some(set.split(';').next()?.trim().to_string())
}

/// A session from a sign-in (or an invitation's redeem) answer.
pub fn person(headers: &HeaderMap, body: &Value) -> Person {
    Person {
        cookie: cookie_of(headers).expect("a session cookie"),
        csrf: body["csrf_token"].as_str().expect("a csrf token").to_string(),
        user_id: body["user"]["id"].as_str().unwrap().to_string(),
    }
}

pub async fn sign_in(app: &TestApp, tenant: &str, email: &str, password: &str) -> (StatusCode, HeaderMap, Value) {
    let body = json!({"tenant": tenant, "email": email, "password": password});
    let response = app.client.post(app.url("/v1/auth/sign-in")).json(&body).send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let text = response.text().await.unwrap();
    (status, headers, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// The platform admin adds an active person with [`PASSWORD`]; they sign in.
pub async fn add_person(app: &TestApp, tenant_id: &str, slug: &str, email: &str, role: &str) -> Person {
    let body = json!({"email": email, "name": email, "role": role, "password": PASSWORD});
    let (status, created) =
        app.post(&format!("/v1/admin/tenants/{tenant_id}/users"), &app.admin_key.clone(), body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, headers, body) = sign_in(app, slug, email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    person(&headers, &body)
}

async fn audit_actions(app: &TestApp, key: &str) -> Vec<Value> {
    let (status, body) = app.get("/v1/audit?limit=200", key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

fn has(entries: &[Value], action: &str, check: impl Fn(&Value) -> bool) -> bool {
    entries.iter().any(|e| e["action"] == action && check(e))
}

#[actix_web::test]
async fn the_first_admin_signs_in_and_uses_the_api_with_the_cookie_and_its_csrf_token() {
    let app = spawn_app().await;
    let (tenant, admin_key) = app.create_tenant("acme", json!({})).await;

    // The platform admin creates the tenant's first admin (only the platform admin may).
    let body = json!({"email": "Ada@Acme.test", "name": "Ada", "role": "admin", "password": PASSWORD});
    let path = format!("/v1/admin/tenants/{tenant}/users");
    assert_eq!(app.post(&path, &admin_key, body.clone()).await.0, StatusCode::FORBIDDEN);
    let (status, created) = app.post(&path, &app.admin_key.clone(), body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["user"]["email"], "ada@acme.test");
    assert_eq!(created["user"]["status"], "active");
    assert!(created["user"].get("password_hash").is_none());
    assert_eq!(app.post(&path, &app.admin_key.clone(), body).await.0, StatusCode::CONFLICT);

    // Wrong passwords, unknown people and unknown tenants get one answer.
    for (slug, email, password) in [
        ("acme", "ada@acme.test", "not the password"),
        ("acme", "bob@acme.test", PASSWORD),
        ("nope", "ada@acme.test", PASSWORD),
    ] {
        let (status, _, body) = sign_in(&app, slug, email, password).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{slug} {email}");
        assert_eq!(body["error"]["message"], "wrong email or password");
    }

    let (status, headers, signed) = sign_in(&app, "acme", " ADA@acme.test", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let set_cookie = headers.get(SET_COOKIE).unwrap().to_str().unwrap().to_string();
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert_eq!(signed["tenant"]["slug"], "acme");
    let ada = person(&headers, &signed);

    // Reading needs only the cookie.
    let (status, _, me) = call(&app, Method::GET, "/v1/me", &ada.cookie, None, None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!((me["kind"].as_str(), me["role"].as_str()), (Some("user"), Some("admin")));
    let (_, _, session) = call(&app, Method::GET, "/v1/auth/session", &ada.cookie, None, None).await;
    assert_eq!(session["csrf_token"], ada.csrf.as_str());

    // Changing anything needs the CSRF token too.
    let key = json!({"role": "member", "name": "ci"});
    for csrf in [None, Some("forged"), Some("")] {
        let (status, _, body) = call(&app, Method::POST, "/v1/keys", &ada.cookie, csrf, Some(key.clone())).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{csrf:?}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("X-CSRF-Token"), "{body}");
    }
    let (status, made) = ada.send(&app, Method::POST, "/v1/keys", Some(key)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let panel = ada.send(&app, Method::POST, "/v1/panels", Some(paced("structured", 0.0))).await;
    assert_eq!(panel.0, StatusCode::CREATED, "{}", panel.1);
    let panel_id = panel.1["id"].as_str().unwrap().to_string();
    let (status, listed) = app.get(&format!("/v1/panels/{panel_id}"), &admin_key).await;
    assert_eq!((status, listed["created_by"].as_str()), (StatusCode::OK, Some(ada.user_id.as_str())));

    // A WebSocket token from the session opens a socket that closes when she signs out.
    let (status, token) = ada.send(&app, Method::POST, "/v1/ws-tokens", Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    let mut ws = app.ws_url(&format!("ws://{}/v1/ws?token={}", app.address, token["token"].as_str().unwrap())).await;
    ws.send(json!({"type": "ping"})).await;
    ws.until("pong", |f| f["type"] == "pong").await;

    let (status, headers, _) = call(&app, Method::POST, "/v1/auth/sign-out", &ada.cookie, None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "signing out is a state change: it needs the token");
    assert!(headers.get(SET_COOKIE).is_none());
    let (status, headers, _) = call(&app, Method::POST, "/v1/auth/sign-out", &ada.cookie, Some(&ada.csrf), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(headers.get(SET_COOKIE).unwrap().to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(ws.closed_with().await, Some(1008));
    let (status, _, _) = call(&app, Method::GET, "/v1/me", &ada.cookie, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.post("/v1/ws-tokens", "", json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Who did what: the platform, then Ada in person.
    let entries = audit_actions(&app, &admin_key).await;
    assert!(has(&entries, "user.created", |e| e["actor"]["kind"] == "platform" && e["target"]["id"] == ada.user_id));
    assert!(has(&entries, "auth.sign_in_failed", |e| e["detail"]["reason"] == "wrong_password"
        && e["address"] == "127.0.0.1"));
    assert!(has(&entries, "auth.signed_in", |e| e["actor"] == json!({"kind": "user", "id": ada.user_id})));
    assert!(has(&entries, "key.created", |e| e["actor"] == json!({"kind": "user", "id": ada.user_id})));
    assert!(has(&entries, "auth.signed_out", |e| e["target"]["id"] == ada.user_id));
}

#[actix_web::test]
async fn repeated_wrong_passwords_lock_the_account_with_backoff_and_flood_the_address_limit() {
    let app = spawn_app_with(|s| {
        s.accounts.lockout_after = 3;
        s.accounts.lockout_base_s = 60;
        s.accounts.failures_per_address_per_minute = 12;
    })
    .await;
    let (tenant, admin_key) = app.create_tenant("acme", json!({})).await;
    add_person(&app, &tenant, "acme", "ada@acme.test", "member").await;

    // Guesses fired side by side are not checked side by side: at most the
    // three the lockout allows are checked, the rest wait (429).
    let burst: Vec<_> = (0..6).map(|_| sign_in(&app, "acme", "ada@acme.test", "wrong password")).collect();
    let statuses: Vec<StatusCode> = futures::future::join_all(burst).await.into_iter().map(|(s, _, _)| s).collect();
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    assert!(checked <= 3, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| matches!(*s, StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS)),
        "{statuses:?}"
    );
    // Then one at a time until the third failure locks the account.
    let mut failures = checked;
    while failures < 3 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let (status, _, _) = sign_in(&app, "acme", "ada@acme.test", "wrong password").await;
        if status == StatusCode::UNAUTHORIZED {
            failures += 1;
        }
    }
    // Locked now: even the right password waits, and says how long.
    let (status, headers, body) = sign_in(&app, "acme", "ada@acme.test", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let retry: u64 = headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let (_, users) = app.get("/v1/users", &admin_key).await;
    assert!(users["items"][0]["locked_until"].is_string(), "{users}");
    let entries = audit_actions(&app, &admin_key).await;
    assert!(has(&entries, "auth.sign_in_failed", |e| e["detail"]["failures"] == 3
        && e["detail"]["locked_until"].is_string()));
    assert!(has(&entries, "auth.sign_in_failed", |e| e["detail"]["reason"] == "locked"));

    // Failures with unknown accounts fill the address's minute (12), then it is refused outright.
    let mut refused = None;
    for _ in 0..12 {
        let (status, headers, _) = sign_in(&app, "acme", "nobody@acme.test", PASSWORD).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(headers);
            break;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert!(refused.expect("the address was refused").get("retry-after").is_some());
    // An API key is not a password: machines are not slowed by people's failures.
    assert_eq!(app.get("/v1/tenant", &admin_key).await.0, StatusCode::OK);
}

#[actix_web::test]
async fn an_emailed_invitation_sets_a_password_once_and_signs_the_person_in() {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(|s| {
        s.mail.smtp_url = sink.url();
        s.accounts.public_url = "https://panel.example".into();
    })
    .await;
    let (_, admin_key) = app.create_tenant("acme", json!({})).await;
    let (_, member_key) = app.create_key(&admin_key, "member").await;

    let invitation = json!({"email": "Bo@Acme.test", "role": "moderator", "name": "Bo"});
    assert_eq!(app.post("/v1/invitations", &member_key, invitation.clone()).await.0, StatusCode::FORBIDDEN);
    let (status, bad) =
        app.post("/v1/invitations", &admin_key, json!({"email": "not-an-address", "role": "member"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    let (status, invited) = app.post("/v1/invitations", &admin_key, invitation).await;
    assert_eq!(status, StatusCode::CREATED, "{invited}");
    assert_eq!((invited["emailed"].as_bool(), invited["link"].is_null()), (Some(true), true), "{invited}");
    assert_eq!(invited["user"]["status"], "invited");

    let mail = sink.wait_for("bo@acme.test", 1).await;
    assert!(mail.subject().contains("invited"), "{}", mail.subject());
    let link = mail.link();
    assert!(link.starts_with("https://panel.example/#/invitation?token="), "{link}");
    let token = link.split("token=").nth(1).unwrap().to_string();

    let (status, pending) = app.get("/v1/invitations", &admin_key).await;
    assert_eq!((status, pending["items"].as_array().unwrap().len()), (StatusCode::OK, 1), "{pending}");
    let (status, info) = app.request(Method::POST, "/v1/auth/links/inspect", None, Some(json!({"token": token}))).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!((info["kind"].as_str(), info["email"].as_str()), (Some("invitation"), Some("bo@acme.test")));

    // A weak password is refused and the link still works; a good one uses it up.
    let redeem = |password: &str| json!({"token": token, "password": password, "name": "Bo Peep"});
    let (status, weak) = app.request(Method::POST, "/v1/auth/links/redeem", None, Some(redeem("short"))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{weak}");
    assert!(weak["error"]["fields"]["password"].is_string(), "{weak}");
    let response = app.client.post(app.url("/v1/auth/links/redeem")).json(&redeem(PASSWORD)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    let joined: Value = response.json().await.unwrap();
    let bo = person(&headers, &joined);
    assert_eq!(
        (joined["user"]["name"].as_str(), joined["user"]["role"].as_str()),
        (Some("Bo Peep"), Some("moderator"))
    );
    let (status, _, me) = call(&app, Method::GET, "/v1/me", &bo.cookie, None, None).await;
    assert_eq!((status, me["user"]["status"].as_str()), (StatusCode::OK, Some("active")));
    let (status, _) = app.request(Method::POST, "/v1/auth/links/redeem", None, Some(redeem(PASSWORD))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a link works once");
    assert_eq!(sign_in(&app, "acme", "bo@acme.test", PASSWORD).await.0, StatusCode::OK);
    let (_, pending) = app.get("/v1/invitations", &admin_key).await;
    assert!(pending["items"].as_array().unwrap().is_empty(), "{pending}");
    // Inviting a member again is a conflict.
    let again = json!({"email": "bo@acme.test", "role": "member"});
    assert_eq!(app.post("/v1/invitations", &admin_key, again).await.0, StatusCode::CONFLICT);

    let entries = audit_actions(&app, &admin_key).await;
    assert!(has(&entries, "user.invited", |e| e["detail"]["emailed"] == true && e["actor"]["kind"] == "key"));
    assert!(has(&entries, "user.joined", |e| e["target"]["id"] == bo.user_id));
}

#[actix_web::test]
async fn without_mail_the_admin_is_shown_the_link_and_a_revoked_invitation_stops_working() {
    let app = spawn_app().await;
    let (_, admin_key) = app.create_tenant("acme", json!({})).await;
    let (status, invited) =
        app.post("/v1/invitations", &admin_key, json!({"email": "cy@acme.test", "role": "viewer"})).await;
    assert_eq!(status, StatusCode::CREATED, "{invited}");
    assert_eq!(invited["emailed"], false);
    let link = invited["link"].as_str().unwrap();
    assert!(link.starts_with(&format!("http://{}/#/invitation?token=", app.address)), "{link}");
    let token = link.split("token=").nth(1).unwrap();
    // Inviting again makes a new link and voids the first.
    let (_, again) = app.post("/v1/invitations", &admin_key, json!({"email": "cy@acme.test", "role": "member"})).await;
    let second = again["link"].as_str().unwrap().split("token=").nth(1).unwrap().to_string();
    let inspect = |t: &str| json!({"token": t});
    assert_eq!(
        app.request(Method::POST, "/v1/auth/links/inspect", None, Some(inspect(token))).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, info) = app.request(Method::POST, "/v1/auth/links/inspect", None, Some(inspect(&second))).await;
    assert_eq!((status, info["role"].as_str()), (StatusCode::OK, Some("member")));

    let user_id = again["user"]["id"].as_str().unwrap();
    let path = format!("/v1/invitations/{user_id}");
    assert_eq!(app.request(Method::DELETE, &path, Some(&admin_key), None).await.0, StatusCode::NO_CONTENT);
    let body = json!({"token": second, "password": PASSWORD});
    assert_eq!(app.request(Method::POST, "/v1/auth/links/redeem", None, Some(body)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.request(Method::DELETE, &path, Some(&admin_key), None).await.0, StatusCode::NOT_FOUND);
    // Junk tokens are unknown links, never errors of the server.
    for junk in ["", "x", "a.b.c", &"9".repeat(300)] {
        let (status, _) = app.request(Method::POST, "/v1/auth/links/inspect", None, Some(inspect(junk))).await;
        assert!(matches!(status, StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY), "{junk}: {status}");
    }
}

#[actix_web::test]
async fn a_password_reset_arrives_by_email_works_once_and_signs_out_everywhere() {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(|s| {
        s.mail.smtp_url = sink.url();
        s.accounts.public_url = "https://panel.example/".into();
    })
    .await;
    let (tenant, admin_key) = app.create_tenant("acme", json!({})).await;
    let laptop = add_person(&app, &tenant, "acme", "ada@acme.test", "member").await;
    let (_, phone_headers, phone_body) = sign_in(&app, "acme", "ada@acme.test", PASSWORD).await;
    let phone = person(&phone_headers, &phone_body);
    let (status, sessions) = laptop.send(&app, Method::GET, "/v1/me/sessions", None).await;
    assert_eq!((status, sessions["items"].as_array().unwrap().len()), (StatusCode::OK, 2), "{sessions}");

    // Unknown addresses and tenants get the same answer, and no mail.
    for (slug, email) in [("acme", "nobody@acme.test"), ("nope", "ada@acme.test"), ("acme", "ada@acme.test")] {
        let body = json!({"tenant": slug, "email": email});
        let (status, _) = app.request(Method::POST, "/v1/auth/password-reset", None, Some(body)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{slug} {email}");
    }
    let mail = sink.wait_for("ada@acme.test", 1).await;
    assert_eq!(sink.all().len(), 1, "{:?}", sink.all());
    let link = mail.link();
    assert!(link.starts_with("https://panel.example/#/reset?token="), "{link}");
    let token = link.split("token=").nth(1).unwrap();

    let new_password = "a new and longer passphrase";
    let body = json!({"token": token, "password": new_password});
    assert_eq!(
        app.request(Method::POST, "/v1/auth/links/redeem", None, Some(body.clone())).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.request(Method::POST, "/v1/auth/links/redeem", None, Some(body)).await.0, StatusCode::NOT_FOUND);
    for device in [&laptop, &phone] {
        let (status, _, _) = call(&app, Method::GET, "/v1/me", &device.cookie, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "every session ended");
    }
    assert_eq!(sign_in(&app, "acme", "ada@acme.test", PASSWORD).await.0, StatusCode::UNAUTHORIZED);
    let (status, headers, body) = sign_in(&app, "acme", "ada@acme.test", new_password).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ada = person(&headers, &body);

    // Changing the password in person needs the current one and keeps only this session.
    let change = json!({"current_password": "wrong", "new_password": "yet another passphrase"});
    assert_eq!(ada.send(&app, Method::POST, "/v1/me/password", Some(change)).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, other_headers, other_body) = sign_in(&app, "acme", "ada@acme.test", new_password).await;
    let other = person(&other_headers, &other_body);
    let mut other_socket = {
        let (_, token) = other.send(&app, Method::POST, "/v1/ws-tokens", Some(json!({}))).await;
        app.ws_url(&format!("ws://{}/v1/ws?token={}", app.address, token["token"].as_str().unwrap())).await
    };
    let change = json!({"current_password": new_password, "new_password": "yet another passphrase"});
    assert_eq!(ada.send(&app, Method::POST, "/v1/me/password", Some(change)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(call(&app, Method::GET, "/v1/me", &ada.cookie, None, None).await.0, StatusCode::OK);
    assert_eq!(call(&app, Method::GET, "/v1/me", &other.cookie, None, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(other_socket.closed_with().await, Some(1008), "the other session's socket closes");

    let entries = audit_actions(&app, &admin_key).await;
    for action in ["auth.password_reset_requested", "auth.password_reset", "auth.password_changed"] {
        assert!(has(&entries, action, |e| e["target"]["id"] == ada.user_id), "{action}");
    }
}

#[actix_web::test]
async fn admins_change_roles_and_remove_people_at_once_but_never_the_last_admin() {
    let app = spawn_app().await;
    let (tenant, admin_key) = app.create_tenant("acme", json!({})).await;
    let ada = add_person(&app, &tenant, "acme", "ada@acme.test", "admin").await;
    let bo = add_person(&app, &tenant, "acme", "bo@acme.test", "member").await;

    // A member cannot manage people.
    assert_eq!(bo.send(&app, Method::GET, "/v1/users", None).await.0, StatusCode::FORBIDDEN);
    let (status, users) = ada.send(&app, Method::GET, "/v1/users", None).await;
    assert_eq!((status, users["items"].as_array().unwrap().len()), (StatusCode::OK, 2));
    // Anyone reads themselves.
    assert_eq!(bo.send(&app, Method::GET, &format!("/v1/users/{}", bo.user_id), None).await.0, StatusCode::OK);
    assert_eq!(bo.send(&app, Method::GET, &format!("/v1/users/{}", ada.user_id), None).await.0, StatusCode::FORBIDDEN);

    // Bo becomes a viewer: his next request may no longer create panels.
    assert_eq!(bo.send(&app, Method::POST, "/v1/panels", Some(paced("structured", 0.0))).await.0, StatusCode::CREATED);
    let path = format!("/v1/users/{}", bo.user_id);
    let mut before = {
        let (_, token) = bo.send(&app, Method::POST, "/v1/ws-tokens", Some(json!({}))).await;
        app.ws_url(&format!("ws://{}/v1/ws?token={}", app.address, token["token"].as_str().unwrap())).await
    };
    let (status, changed) = ada.send(&app, Method::PATCH, &path, Some(json!({"role": "viewer"}))).await;
    assert_eq!((status, changed["role"].as_str()), (StatusCode::OK, Some("viewer")), "{changed}");
    // A socket opened with the old role closes (the page reconnects with the new one).
    assert_eq!(before.closed_with().await, Some(1008));
    assert_eq!(
        bo.send(&app, Method::POST, "/v1/panels", Some(paced("structured", 0.0))).await.0,
        StatusCode::FORBIDDEN
    );

    // The last admin stays.
    let ada_path = format!("/v1/users/{}", ada.user_id);
    assert_eq!(ada.send(&app, Method::PATCH, &ada_path, Some(json!({"role": "member"}))).await.0, StatusCode::CONFLICT);
    assert_eq!(ada.send(&app, Method::DELETE, &ada_path, None).await.0, StatusCode::CONFLICT);

    // Removing Bo ends his sessions at once; he cannot sign in again.
    let mut ws = {
        let (_, token) = bo.send(&app, Method::POST, "/v1/ws-tokens", Some(json!({}))).await;
        app.ws_url(&format!("ws://{}/v1/ws?token={}", app.address, token["token"].as_str().unwrap())).await
    };
    assert_eq!(ada.send(&app, Method::DELETE, &path, None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(ws.closed_with().await, Some(1008));
    assert_eq!(call(&app, Method::GET, "/v1/me", &bo.cookie, None, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(sign_in(&app, "acme", "bo@acme.test", PASSWORD).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(ada.send(&app, Method::DELETE, &path, None).await.0, StatusCode::NOT_FOUND);

    // An admin can hand out a reset link when no mail is configured.
    let reset = ada.send(&app, Method::POST, &format!("{ada_path}/password-reset"), None).await;
    assert_eq!(reset.0, StatusCode::CREATED, "{}", reset.1);
    assert!(reset.1["link"].as_str().unwrap().contains("#/reset?token="));

    let entries = audit_actions(&app, &admin_key).await;
    assert!(has(&entries, "user.role_changed", |e| e["detail"] == json!({"from": "member", "to": "viewer"})));
    assert!(has(&entries, "user.removed", |e| e["target"]["id"] == bo.user_id && e["actor"]["id"] == ada.user_id));
}

#[actix_web::test]
async fn people_and_sessions_never_cross_tenants() {
    let app = spawn_app().await;
    let (acme, acme_key) = app.create_tenant("acme", json!({})).await;
    let (globex, globex_key) = app.create_tenant("globex", json!({})).await;
    let ada = add_person(&app, &acme, "acme", "ada@acme.test", "admin").await;
    let gus = add_person(&app, &globex, "globex", "gus@globex.test", "admin").await;
    let (_, invited) =
        app.post("/v1/invitations", &acme_key, json!({"email": "new@acme.test", "role": "member"})).await;
    let invited_id = invited["user"]["id"].as_str().unwrap();

    // Another tenant's admin, by key or in person, finds none of Acme's people.
    for path in [format!("/v1/users/{}", ada.user_id), format!("/v1/users/{}/password-reset", ada.user_id)] {
        let method = if path.ends_with("reset") { Method::POST } else { Method::GET };
        assert_eq!(
            app.request(method.clone(), &path, Some(&globex_key), None).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
        assert_eq!(gus.send(&app, method, &path, None).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    let path = format!("/v1/users/{}", ada.user_id);
    assert_eq!(gus.send(&app, Method::PATCH, &path, Some(json!({"role": "viewer"}))).await.0, StatusCode::NOT_FOUND);
    assert_eq!(gus.send(&app, Method::DELETE, &path, None).await.0, StatusCode::NOT_FOUND);
    let path = format!("/v1/invitations/{invited_id}");
    assert_eq!(app.request(Method::DELETE, &path, Some(&globex_key), None).await.0, StatusCode::NOT_FOUND);
    let (_, listed) = gus.send(&app, Method::GET, "/v1/users", None).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let (_, pending) = app.get("/v1/invitations", &globex_key).await;
    assert!(pending["items"].as_array().unwrap().is_empty());

    // A person signs in to their own tenant only.
    assert_eq!(sign_in(&app, "globex", "ada@acme.test", PASSWORD).await.0, StatusCode::UNAUTHORIZED);
    // A session asked to act for another tenant is refused.
    let (status, _, _) = {
        let mut request = app.client.get(app.url("/v1/tenant")).header(COOKIE, &ada.cookie);
        request = request.header("x-tenant-id", "globex");
        let response = request.send().await.unwrap();
        (response.status(), (), ())
    };
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A cookie rewritten to name another tenant names no session there.
    let value = ada.cookie.split_once('=').unwrap().1;
    let (_, rest) = value.split_once('.').unwrap();
    let forged = format!("askpanel_session={globex}.{rest}");
    assert_eq!(call(&app, Method::GET, "/v1/me", &forged, None, None).await.0, StatusCode::UNAUTHORIZED);
    // And each tenant's trail has only its own people.
    let entries = audit_actions(&app, &globex_key).await;
    assert!(!entries.iter().any(|e| e.to_string().contains(&ada.user_id)), "{entries:#?}");
}

#[actix_web::test]
async fn a_hybrid_seat_that_names_a_person_takes_their_input_only() {
    let app = spawn_app().await;
    let (tenant, admin_key) = app.create_tenant("acme", json!({})).await;
    let (globex, _) = app.create_tenant("globex", json!({})).await;
    let ada = add_person(&app, &tenant, "acme", "ada@acme.test", "member").await;
    let bo = add_person(&app, &tenant, "acme", "bo@acme.test", "member").await;
    let gus = add_person(&app, &globex, "globex", "gus@globex.test", "member").await;
    let (_, invited) =
        app.post("/v1/invitations", &admin_key, json!({"email": "cy@acme.test", "name": "Cy", "role": "member"})).await;
    let hybrid = |humans: Value| {
        json!({
            "query": "Should our AI ECG triage device pursue 510(k) or De Novo?", "panel_type": "hybrid",
            "expert_count": 2, "humans": humans, "max_rounds": 2, "human_turn_timeout_s": 120,
            "simulation": {"seed": 4, "pace_tokens_per_s": 300, "turn_tokens": 15}
        })
    };

    // Seats name people of this tenant only, by id or by (invited) address.
    for humans in [
        json!([{"email": "nobody@acme.test"}]),
        json!([{"user_id": gus.user_id}]),
        json!([{"user_id": "not-an-id"}]),
        json!([{"user_id": ada.user_id, "email": "ada@acme.test"}]),
    ] {
        let (status, body) = app.post("/v1/panels", &admin_key, hybrid(humans.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{humans}: {body}");
    }
    let panel = app.create_panel(&admin_key, hybrid(json!([{"email": "CY@acme.test"}]))).await;
    let cy = panel["members"].as_array().unwrap().iter().find(|m| m["kind"] == "human").unwrap().clone();
    assert_eq!((cy["user_id"].as_str(), cy["name"].as_str()), (invited["user"]["id"].as_str(), Some("Cy")));

    let (status, panel) =
        ada.send(&app, Method::POST, "/v1/panels", Some(hybrid(json!([{"user_id": ada.user_id}])))).await;
    assert_eq!(status, StatusCode::CREATED, "{panel}");
    let id = panel["id"].as_str().unwrap().to_string();
    let seat = panel["members"].as_array().unwrap().iter().find(|m| m["kind"] == "human").unwrap().clone();
    assert_eq!((seat["user_id"].as_str(), seat["name"].as_str()), (Some(ada.user_id.as_str()), Some("ada@acme.test")));
    let member_id = seat["id"].as_str().unwrap().to_string();
    // A share link's reader sees the seat but not who holds it.
    let (_, share) = app.post(&format!("/v1/panels/{id}/shares"), &admin_key, json!({})).await;
    let (status, shared) =
        app.request(Method::GET, &format!("/v1/shared/{}", share["token"].as_str().unwrap()), None, None).await;
    assert_eq!(status, StatusCode::OK, "{shared}");
    assert!(!shared.to_string().contains(&ada.user_id), "{shared}");
    let mut ws = app.ws(&admin_key).await;
    ws.send(json!({"type": "subscribe", "panel_id": id, "after_seq": 0})).await;
    ws.until("the person's turn", |f| is_event(f, "human_turn_requested")).await;

    // Bo (a member, not a moderator) cannot speak for Ada's seat; a member key cannot either; Ada can.
    let input = json!({"member_id": member_id, "text": "From the person who holds the seat."});
    let path = format!("/v1/panels/{id}/input");
    assert_eq!(bo.send(&app, Method::POST, &path, Some(input.clone())).await.0, StatusCode::FORBIDDEN);
    let (_, member_key) = app.create_key(&admin_key, "member").await;
    assert_eq!(app.post(&path, &member_key, input.clone()).await.0, StatusCode::FORBIDDEN);
    let (status, body) = ada.send(&app, Method::POST, &path, Some(input)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    ws.until("her input", |f| is_event(f, "human_input") && f["data"]["text"] == "From the person who holds the seat.")
        .await;
    // A re-run (of the ended panel) keeps the seat hers.
    let (status, _) = app.post(&format!("/v1/panels/{id}/moderate"), &admin_key, json!({"action": "cancel"})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    app.wait_completed(&admin_key, &id).await;
    let (status, rerun) = app.post(&format!("/v1/panels/{id}/rerun"), &admin_key, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{rerun}");
    let seat = rerun["members"].as_array().unwrap().iter().find(|m| m["kind"] == "human").unwrap().clone();
    assert_eq!(seat["user_id"].as_str(), Some(ada.user_id.as_str()), "{rerun}");
}
