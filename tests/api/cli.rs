//! The binary's command line, as an operator uses it: the first start's
//! keys, `migrate`, `tenant create|list`, `key create` and `ask`, on a fresh
//! SQLite folder (the embedded defaults).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::*;

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config");

/// Runs a one-shot command of the binary; returns its stdout.
fn run(data_dir: Option<&Path>, args: &[&str]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_askpanel"));
    command.args(["--config", CONFIG]).args(args).env("ASKPANEL__LOG__LEVEL", "warn");
    if let Some(dir) = data_dir {
        command.arg("--data-dir").arg(dir);
    }
    let output = command.output().expect("the binary runs");
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// Starts `serve` with no admin key configured; returns the child, its address and the lines before `listening on`.
async fn serve(data_dir: &Path) -> (std::process::Child, String, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_askpanel"))
        .args(["--config", CONFIG, "serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env_remove("ASKPANEL__AUTH__ADMIN_KEY")
        .env("ASKPANEL__LOG__LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        let mut before = Vec::new();
        let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
        for line in lines.by_ref() {
            let done = line.starts_with("listening on http://");
            before.push(line);
            if done {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        before
    });
    let lines = tokio::time::timeout(Duration::from_secs(30), lines).await.unwrap().unwrap();
    let address =
        lines.last().and_then(|l| l.strip_prefix("listening on http://")).expect("listening line").to_string();
    (child, address, lines)
}

fn after<'a>(lines: &'a [String], prefix: &str) -> Option<&'a str> {
    lines.iter().find_map(|l| l.strip_prefix(prefix)).map(str::trim)
}

#[actix_web::test]
async fn the_first_start_prints_working_keys_once_and_the_admin_commands_manage_tenants_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    assert!(run(Some(dir.path()), &["migrate"]).starts_with("database is up to date"));

    let (mut child, address, lines) = serve(dir.path()).await;
    let admin = after(&lines, "platform admin key (shown once, keep it safe):")
        .expect("the admin key is printed on the first start")
        .to_string();
    let demo = after(&lines, "demo tenant admin key (shown once):").expect("the demo key is printed").to_string();
    let link = after(&lines, "sign in:").expect("a sign-in link");
    assert!(link.ends_with(&format!("#key={demo}")), "{link}");
    let app = TestApp::remote(address, admin.clone());
    let tenant = app.get("/v1/tenant", &demo).await;
    assert_eq!(tenant.0, StatusCode::OK);
    assert_eq!(tenant.1["slug"], "demo");
    assert_eq!(app.request(reqwest::Method::GET, "/v1/admin/tenants", Some(&admin), None).await.0, StatusCode::OK);
    child.kill().unwrap();
    child.wait().unwrap();

    // Admin commands against the same folder.
    let created = run(Some(dir.path()), &["tenant", "create", "--slug", "acme", "--name", "Acme Health"]);
    let acme_admin = created.trim().rsplit(": ").next().unwrap().to_string();
    assert!(created.contains("tenant acme"), "{created}");
    let listed = run(Some(dir.path()), &["tenant", "list"]);
    assert!(
        listed.lines().any(|l| l.contains("\tacme\t")) && listed.lines().any(|l| l.contains("\tdemo\t")),
        "{listed}"
    );
    let key = run(Some(dir.path()), &["key", "create", "--tenant", "acme", "--role", "viewer", "--name", "dashboards"]);
    let viewer = key.trim().rsplit(": ").next().unwrap().to_string();

    // The second start prints no key, and the keys made offline work.
    let (mut child, address, lines) = serve(dir.path()).await;
    assert!(lines.iter().all(|l| !l.contains("key")), "keys are shown once: {lines:?}");
    let app = TestApp::remote(address, admin);
    assert_eq!(app.get("/v1/tenant", &acme_admin).await.1["slug"], "acme");
    assert_eq!(app.get("/v1/tenant", &viewer).await.1["caller"]["role"], "viewer");
    let (status, body) = app.post("/v1/panels", &viewer, structured(1)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{body}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[actix_web::test]
async fn ask_runs_a_panel_in_the_terminal_to_its_recommendation() {
    let out = run(
        None,
        &[
            "ask",
            "Should our AI ECG triage device pursue 510(k) or De Novo?",
            "--type",
            "delphi",
            "--experts",
            "5",
            "--pace",
            "0",
            "--turn-tokens",
            "20",
        ],
    );
    assert!(out.to_lowercase().contains("recommendation"), "{out}");
    assert!(out.contains("[simulated]"), "{out}");
}

#[test]
fn eval_runs_the_question_set_over_formats_and_writes_its_report() {
    let out = tempfile::tempdir().unwrap();
    let questions = concat!(env!("CARGO_MANIFEST_DIR"), "/config/eval/questions.toml");
    let table = run(
        None,
        &[
            "eval",
            "--questions",
            questions,
            "--formats",
            "structured,delphi,hybrid",
            "--models",
            "simulated",
            "--panels",
            "2",
            "--out",
            out.path().to_str().unwrap(),
        ],
    );
    assert!(table.contains("| simulated | delphi | 2/2 |"), "{table}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("eval.json")).unwrap()).unwrap();
    let rows = report.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for row in rows {
        assert_eq!(row["completed"], 2, "{row}");
        assert_eq!(row["trailer_leaks"], 0, "{row}");
        assert!(row["rated_turns"].as_u64().unwrap() > 0 && row["turns"].as_u64().unwrap() > 0, "{row}");
        assert!(row["tokens_in"].as_u64().unwrap() > 0);
    }
    assert!(std::fs::read_to_string(out.path().join("eval.md")).unwrap().contains("| model | format |"));
    // A question set that cannot be read is a clear error, not a panic.
    let bad = out.path().join("bad.toml");
    std::fs::write(&bad, "[[question]]\nid = \"x\"\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_askpanel"))
        .args(["--config", CONFIG, "eval", "--questions"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("is not valid"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
