use super::*;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

#[test]
fn signatures_match_the_standard_webhooks_test_vector() {
    // The published vector of the Standard Webhooks reference libraries: a
    // receiver's own library must accept what we send.
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let (id, timestamp, body) = ("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, r#"{"test": 2432232314}"#);
    let key = secret_key(secret).unwrap();
    assert_eq!(sign(&key, id, timestamp, body), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    // During a rotation both secrets sign, space-separated.
    let fresh = generate_secret();
    let header = signature_header(&[&fresh, secret], id, timestamp, body);
    let parts: Vec<&str> = header.split(' ').collect();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[1], "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    assert_ne!(parts[0], parts[1]);
}

#[test]
fn secrets_are_whsec_and_32_random_bytes() {
    let (a, b) = (generate_secret(), generate_secret());
    assert_ne!(a, b);
    assert!(a.starts_with("whsec_"));
    assert_eq!(secret_key(&a).unwrap().len(), 32);
    assert_eq!(secret_key("whsec_"), None);
    assert_eq!(secret_key("whsec_!!!"), None);
}

#[test]
fn retries_wait_four_times_longer_each_time_and_stop_after_a_day() {
    let policy = RetryPolicy {
        base: Duration::from_secs(5),
        max_wait: Duration::from_secs(36_000),
        retry_for: Duration::from_secs(86_400),
    };
    let first = at("2026-12-03T00:00:00Z");
    let cases: [(u32, &str, Option<&str>); 6] = [
        (1, "2026-12-03T00:00:00Z", Some("2026-12-03T00:00:05Z")),
        (2, "2026-12-03T00:00:05Z", Some("2026-12-03T00:00:25Z")),
        (3, "2026-12-03T00:00:25Z", Some("2026-12-03T00:01:45Z")),
        // Capped at ten hours between attempts...
        (9, "2026-12-03T10:00:00Z", Some("2026-12-03T20:00:00Z")),
        // ...and the last attempt falls at the end of the day, not after it.
        (10, "2026-12-03T20:00:00Z", Some("2026-12-04T00:00:00Z")),
        (11, "2026-12-04T00:00:00Z", None),
    ];
    for (attempts, now, next) in cases {
        assert_eq!(next_attempt(&policy, attempts, first, at(now), 0.0), next.map(at), "{attempts} at {now}");
    }
    // Jitter adds at most a tenth.
    let jittered = next_attempt(&policy, 2, first, at("2026-12-03T00:00:05Z"), 1.0).unwrap();
    assert_eq!(jittered, at("2026-12-03T00:00:27Z"));
}

#[test]
fn an_endpoint_is_disabled_only_after_enough_failures_for_long_enough() {
    let rule = DisableRule { after_failures: 10, after: Duration::from_secs(86_400) };
    let since = Some(at("2026-12-03T00:00:00Z"));
    for (failures, failing_since, now, disabled) in [
        (10, since, "2026-12-04T00:00:00Z", true),
        (9, since, "2026-12-04T00:00:00Z", false),
        (50, since, "2026-12-03T23:59:59Z", false),
        (50, None, "2026-12-05T00:00:00Z", false),
    ] {
        assert_eq!(should_disable(&rule, failures, failing_since, at(now)), disabled, "{failures} {now}");
    }
}

#[test]
fn only_public_addresses_are_targets_unless_private_ones_are_allowed() {
    for (ip, public) in [
        ("8.8.8.8", true),
        ("1.1.1.1", true),
        ("127.0.0.1", false),
        ("10.1.2.3", false),
        ("172.16.0.1", false),
        ("192.168.1.1", false),
        ("169.254.169.254", false),
        ("100.64.0.1", false),
        ("0.0.0.0", false),
        ("255.255.255.255", false),
        ("198.18.0.1", false),
        ("2606:4700::1111", true),
        ("::1", false),
        ("fc00::1", false),
        ("fe80::1", false),
        ("::ffff:127.0.0.1", false),
        ("::ffff:8.8.8.8", true),
        ("::127.0.0.1", false),
        ("::ffff:0:7f00:1", false),
        ("2002:7f00:1::1", false),
        ("2002:808:808::1", true),
        ("2001:0:4136:e378::1", false),
        ("fec0::1", false),
        ("100::1", false),
        ("64:ff9b::a00:1", false),
        ("2001:db8::1", false),
        ("192.88.99.1", false),
    ] {
        assert_eq!(is_public(ip.parse().unwrap()), public, "{ip}");
    }
}

#[test]
fn notices_name_an_endpoint_by_its_host_only() {
    assert_eq!(display_url("https://hooks.example.com/t/SECRET?token=x"), "https://hooks.example.com");
    assert_eq!(display_url("http://127.0.0.1:9000/hooks"), "http://127.0.0.1:9000");
    assert_eq!(display_url("not a url"), "(an endpoint)");
}

#[test]
fn endpoint_urls_are_checked() {
    for (url, allow_private, ok) in [
        ("https://hooks.example.com/askpanel", false, true),
        ("https://hooks.example.com:8443/a?b=c", false, true),
        ("http://hooks.example.com/askpanel", false, false),
        ("http://127.0.0.1:9000/hook", true, true),
        ("http://localhost:9000/hook", true, true),
        ("https://localhost/hook", false, false),
        ("https://intranet/hook", false, false),
        ("https://127.0.0.1/hook", false, false),
        ("https://[::1]/hook", false, false),
        ("https://169.254.169.254/latest", false, false),
        ("https://user:pw@hooks.example.com/", false, false),
        ("https://hooks.example.com/#frag", false, false),
        ("ftp://hooks.example.com/", true, false),
        ("not a url", true, false),
    ] {
        assert_eq!(check_url(url, allow_private).is_ok(), ok, "{url} (private allowed: {allow_private})");
    }
    assert!(check_url(&format!("https://hooks.example.com/{}", "a".repeat(URL_MAX)), false).is_err());
}

#[test]
fn endpoints_choose_known_event_types() {
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(check_events(&names(&["panel.completed", "panel.failed"])).is_ok());
    assert!(check_events(&names(&["*"])).is_ok());
    assert!(check_events(&[]).is_err());
    assert!(check_events(&names(&["panel.exploded"])).is_err());
    assert!(check_events(&names(&["panel.failed", "panel.failed"])).is_err());
    assert!(wants(&names(&["panel.completed"]), "panel.completed"));
    assert!(!wants(&names(&["panel.completed"]), "panel.failed"));
    assert!(wants(&names(&["*"]), "human_turn.requested"));
    assert!(wants(&names(&["panel.completed"]), TEST_EVENT), "a test message goes whatever was chosen");
}
