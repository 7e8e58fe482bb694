//! The document library and grounded panels, through the real server:
//! uploads of every format (JSON and multipart), extraction into passages,
//! search, hostile files, limits, tenant isolation, and panels whose
//! members cite the passages they were given.

use std::io::Write;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const DOSSIER: &str = "# Device overview\n\nThe CardioWatch is a battery-powered wearable ECG monitor for adults with suspected atrial fibrillation. It records a single-lead ECG and flags irregular rhythms for clinician review.\n\n# Battery safety\n\nThe lithium polymer cell passed thermal runaway testing at 60 degrees Celsius without venting. Two field units showed swelling after eighteen months of daily charging, and the supplier changed the separator in 2024.\n\n# Clinical evidence\n\nIn the pivotal study of 412 patients the device detected atrial fibrillation with a sensitivity of 96 percent and a specificity of 92 percent against a 12-lead reference.\n\n# Regulatory path\n\nA predicate device with the same single-lead ECG technology was cleared in 2021, which supports a 510(k) submission rather than De Novo.";

/// Uploads Markdown as JSON and waits until it is ready; returns the document.
pub async fn upload_ready(app: &TestApp, key: &str, title: &str, text: &str) -> Value {
    let (status, doc) =
        app.post("/v1/documents", key, json!({"title": title, "text": text, "format": "markdown"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{doc}");
    assert_eq!(doc["status"], "pending");
    wait_document(app, key, doc["id"].as_str().unwrap(), "ready").await
}

/// Polls a document until its status is `status` (and fails on any other final one).
pub async fn wait_document(app: &TestApp, key: &str, id: &str, status: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (code, doc) = app.get(&format!("/v1/documents/{id}"), key).await;
        assert_eq!(code, StatusCode::OK, "{doc}");
        if doc["status"] == status {
            return doc;
        }
        assert!(
            doc["status"] == "pending" || doc["status"] == "extracting",
            "document became {} instead of {status}: {doc}",
            doc["status"]
        );
        assert!(std::time::Instant::now() < deadline, "document never became {status}: {doc}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A multipart body with a `file` part (and a `title` part when given).
fn multipart(filename: &str, content_type: Option<&str>, bytes: &[u8], title: Option<&str>) -> (String, Vec<u8>) {
    let boundary = "askpanel-test-boundary-7d1c";
    let mut body = Vec::new();
    if let Some(title) = title {
        write!(body, "--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n{title}\r\n").unwrap();
    }
    write!(body, "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n").unwrap();
    if let Some(ct) = content_type {
        write!(body, "Content-Type: {ct}\r\n").unwrap();
    }
    body.extend_from_slice(b"\r\n");
    body.extend_from_slice(bytes);
    write!(body, "\r\n--{boundary}--\r\n").unwrap();
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload_file(
    app: &TestApp,
    key: &str,
    filename: &str,
    content_type: Option<&str>,
    bytes: &[u8],
) -> (StatusCode, Value) {
    let (ct, body) = multipart(filename, content_type, bytes, None);
    let response = app
        .client
        .post(app.url("/v1/documents"))
        .bearer_auth(key)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("upload of {filename} ({} bytes) sent: {e:?}", bytes.len()));
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// A small valid PDF: one page per text, Helvetica, with a correct xref table.
pub fn pdf(pages: &[&str]) -> Vec<u8> {
    let streams: Vec<(Vec<u8>, bool)> = pages
        .iter()
        .map(|text| {
            let mut stream = String::from("BT /F1 11 Tf 14 TL 72 720 Td\n");
            for line in text.lines() {
                let escaped = line.replace('\\', "\\\\").replace('(', "\\(").replace(')', "\\)");
                stream.push_str(&format!("({escaped}) Tj T*\n"));
            }
            stream.push_str("ET");
            (stream.into_bytes(), false)
        })
        .collect();
    pdf_raw(&streams)
}

/// A PDF whose pages have these content streams (`true`: already FlateDecode-compressed).
fn pdf_raw(pages: &[(Vec<u8>, bool)]) -> Vec<u8> {
    let n = pages.len();
    let mut objects: Vec<Vec<u8>> = Vec::new();
    // 1 catalog, 2 pages, 3 font, then (page, content) pairs.
    objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 4 + 2 * i)).collect();
    objects.push(format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")).into_bytes());
    objects.push(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_vec());
    for (i, (stream, flate)) in pages.iter().enumerate() {
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                5 + 2 * i
            )
            .into_bytes(),
        );
        let filter = if *flate { " /Filter /FlateDecode" } else { "" };
        let mut object = format!("<< /Length {}{filter} >>\nstream\n", stream.len()).into_bytes();
        object.extend_from_slice(stream);
        object.extend_from_slice(b"\nendstream");
        objects.push(object);
    }
    assemble(&objects)
}

/// A PDF of these objects (numbered from 1; the first is the catalog) with a correct xref table.
fn assemble(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(object);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    out
}

#[actix_web::test]
async fn a_markdown_document_is_split_into_passages_and_found_by_search() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("docs-md", json!({})).await;
    let doc = upload_ready(&app, &key, "CardioWatch dossier", DOSSIER).await;
    assert_eq!(doc["media_type"], "text/markdown");
    assert_eq!(doc["progress"], 1.0);
    assert!(doc["passages"].as_u64().unwrap() >= 4, "{doc}");
    assert_eq!(doc["chars"].as_u64().unwrap() as usize, {
        // The paragraphs joined by blank lines, headings apart.
        let paragraphs: Vec<&str> = DOSSIER.split("\n\n").filter(|p| !p.starts_with('#')).collect();
        paragraphs.join("\n\n").chars().count()
    });
    let id = doc["id"].as_str().unwrap();

    let (status, page) = app.get(&format!("/v1/documents/{id}/passages?limit=2"), &key).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["n"], 1);
    assert_eq!(items[0]["heading"], "Device overview");
    assert_eq!(items[1]["heading"], "Battery safety");
    assert_eq!(page["next_cursor"], 2);
    let (_, rest) = app.get(&format!("/v1/documents/{id}/passages?after=2"), &key).await;
    assert_eq!(rest["items"][0]["n"], 3);

    let (status, hits) = app.get("/v1/documents/search?q=thermal%20runaway%20battery%20swelling", &key).await;
    assert_eq!(status, StatusCode::OK, "{hits}");
    let first = &hits["items"][0];
    assert_eq!(first["document_id"], id);
    assert_eq!(first["title"], "CardioWatch dossier");
    assert_eq!(first["passage"]["heading"], "Battery safety", "BM25 ranks the battery passage first: {hits}");
    let (_, passage) = app.get(&format!("/v1/documents/{id}/passages/{}", first["passage"]["n"]), &key).await;
    assert_eq!(passage, first["passage"]);

    let (_, none) = app.get("/v1/documents/search?q=quantum%20entanglement", &key).await;
    assert_eq!(none["items"], json!([]));
    let (status, _) = app.get("/v1/documents/search?q=", &key).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (_, list) = app.get("/v1/documents", &key).await;
    assert_eq!(list["items"][0]["id"], id);
    assert_eq!(list["storage"]["documents"], 1);
    assert_eq!(list["storage"]["used_bytes"], DOSSIER.len());
}

#[actix_web::test]
async fn text_html_and_pdf_uploads_are_read_with_their_structure() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("docs-formats", json!({})).await;

    let (status, txt) = upload_file(&app, &key, "notes.txt", None, b"First note.\n\nSecond note.").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{txt}");
    assert_eq!(txt["title"], "notes.txt");
    assert_eq!(txt["media_type"], "text/plain");

    let html = b"<html><head><style>x{}</style></head><body><h1>Risk &amp; safety</h1><p>Cells are tested.</p><script>bad()</script></body></html>";
    let (status, page) = upload_file(&app, &key, "page.bin", Some("text/html; charset=utf-8"), html).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{page}");

    let pdf_bytes = pdf(&["Page one speaks of the battery.", "Page two reports (96%) sensitivity."]);
    let (status, report) = upload_file(&app, &key, "report.pdf", Some("application/octet-stream"), &pdf_bytes).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{report}");
    assert_eq!(report["media_type"], "application/pdf");

    let txt = wait_document(&app, &key, txt["id"].as_str().unwrap(), "ready").await;
    assert_eq!(txt["passages"], 1);
    let page = wait_document(&app, &key, page["id"].as_str().unwrap(), "ready").await;
    let (_, passages) = app.get(&format!("/v1/documents/{}/passages", page["id"].as_str().unwrap()), &key).await;
    assert_eq!(passages["items"][0]["text"], "Cells are tested.");
    assert_eq!(passages["items"][0]["heading"], "Risk & safety");

    let report = wait_document(&app, &key, report["id"].as_str().unwrap(), "ready").await;
    assert_eq!(report["pages"], 2, "{report}");
    let (_, passages) = app.get(&format!("/v1/documents/{}/passages", report["id"].as_str().unwrap()), &key).await;
    let items = passages["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{passages}");
    assert_eq!(items[0]["page"], 1);
    assert!(items[0]["text"].as_str().unwrap().contains("battery"), "{passages}");
    assert_eq!(items[1]["page"], 2);
    assert!(items[1]["text"].as_str().unwrap().contains("(96%) sensitivity"), "{passages}");

    // A type the library does not read, and a part it does not know.
    let (status, body) = upload_file(&app, &key, "archive.zip", Some("application/zip"), b"PK\x03\x04").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = app.post("/v1/documents", &key, json!({"text": "x", "format": "docx"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = app.post("/v1/documents", &key, json!({"text": "x", "extra": 1})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

#[actix_web::test]
async fn hostile_files_fail_with_a_reason_and_the_server_stays_healthy() {
    // A zip bomb disguised as a PDF: a page whose content inflates to 1 GiB
    // of zeros (four times the extractor's memory). Built before the server
    // starts: it takes a while, and an idle pooled connection would go stale.
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        encoder.write_all(&zeros).unwrap();
    }
    let bomb = pdf_raw(&[(encoder.finish().unwrap(), true)]);
    let app = spawn_app_with(|s| {
        s.documents.pdf_memory_mb = 256;
        s.documents.pdf_timeout_s = 30;
    })
    .await;
    let (_, key) = app.create_tenant("docs-hostile", json!({})).await;

    // Objects nested 200,000 deep in a well-formed file (the parser must reach them).
    let deep = assemble(&[
        format!("<< /Type /Catalog /Pages 2 0 R /Deep {}{} >>", "[".repeat(200_000), "]".repeat(200_000)).into_bytes(),
        b"<< /Type /Pages /Kids [] /Count 0 >>".to_vec(),
    ]);
    // (case, file, bytes, what the reason says)
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        ("zip bomb", "bomb.pdf", bomb, "memory"),
        ("deeply nested objects", "deep.pdf", deep, ""),
        ("not a PDF at all", "fake.pdf", b"\x7fELF this is not a pdf".to_vec(), "not a PDF"),
        ("invalid UTF-8", "latin1.txt", b"caf\xe9 au lait".to_vec(), "UTF-8"),
        ("binary as text", "nul.md", b"text\0with nul".to_vec(), "binary"),
        ("no text", "blank.txt", b"   \n\n\t ".to_vec(), "no text"),
    ];
    let mut ids = Vec::new();
    for (name, filename, bytes, says) in &cases {
        let (status, doc) = upload_file(&app, &key, filename, None, bytes).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{name}: {doc}");
        ids.push((name, doc["id"].as_str().unwrap().to_string(), says));
    }
    for (name, id, says) in &ids {
        let doc = wait_document(&app, &key, id, "failed").await;
        let error = doc["error"].as_str().unwrap_or_default();
        assert!(!error.is_empty() && error.contains(*says), "{name}: a failed document says why: {doc}");
        assert_eq!(doc["passages"], 0, "{name}");
        let (_, passages) = app.get(&format!("/v1/documents/{id}/passages"), &key).await;
        assert_eq!(passages["items"], json!([]), "{name}: nothing half-indexed");
    }
    // A 5 MB line with no spaces is cut into passages, not refused.
    let line = "x".repeat(5 * 1024 * 1024);
    let (status, doc) = upload_file(&app, &key, "line.txt", Some("text/plain"), line.as_bytes()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{doc}");
    let doc = wait_document(&app, &key, doc["id"].as_str().unwrap(), "ready").await;
    assert!(doc["passages"].as_u64().unwrap() > 3000, "{doc}");

    // Past the tier's file size: refused while it arrives.
    let big = vec![b'a'; 26 * 1024 * 1024];
    let (status, body) = upload_file(&app, &key, "big.txt", None, &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");

    let (status, _) = app.request(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    upload_ready(&app, &key, "still works", "The server is healthy after all of it.").await;
}

#[actix_web::test]
async fn the_library_quota_and_roles_are_enforced() {
    let app = spawn_app().await;
    let (_, admin) = app.create_tenant("docs-quota", json!({"max_documents": 2, "max_storage_mb": 1})).await;
    let (_, viewer) = app.create_key(&admin, "viewer").await;
    let (status, _) = app.post("/v1/documents", &viewer, json!({"text": "a viewer cannot upload"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let big = "word ".repeat(150_000); // 750 KB
    let (status, first) = app.post("/v1/documents", &admin, json!({"text": big})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let (status, body) = app.post("/v1/documents", &admin, json!({"text": big})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "past max_storage_mb: {body}");
    assert_eq!(body["error"]["code"], "limit_exceeded");
    let (status, _) = app.post("/v1/documents", &admin, json!({"text": "small"})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, body) = app.post("/v1/documents", &admin, json!({"text": "third"})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "past max_documents: {body}");

    // Deleting frees the room; the passages go with the document.
    let id = first["id"].as_str().unwrap();
    wait_document(&app, &admin, id, "ready").await;
    let (status, _) = app.request(Method::DELETE, &format!("/v1/documents/{id}"), Some(&viewer), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.request(Method::DELETE, &format!("/v1/documents/{id}"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(&format!("/v1/documents/{id}/passages/1"), &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, hits) = app.get("/v1/documents/search?q=word", &viewer).await;
    assert_eq!(hits["items"], json!([]));
    let (status, _) = app.post("/v1/documents", &admin, json!({"text": "room again"})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[actix_web::test]
async fn documents_and_passages_of_another_tenant_are_never_reachable() {
    let app = spawn_app().await;
    let (_, a) = app.create_tenant("docs-a", json!({})).await;
    let (_, b) = app.create_tenant("docs-b", json!({})).await;
    let theirs = upload_ready(&app, &b, "B's secret", "The zeppelin budget of tenant B is classified.").await;
    let ours = upload_ready(&app, &a, "A's notes", "Tenant A studies the battery of the device.").await;
    let id = theirs["id"].as_str().unwrap();

    for path in [
        format!("/v1/documents/{id}"),
        format!("/v1/documents/{id}/passages"),
        format!("/v1/documents/{id}/passages/1"),
    ] {
        let (status, body) = app.get(&path, &a).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let (status, _) = app.request(Method::DELETE, &format!("/v1/documents/{id}"), Some(&a), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, hits) = app.get("/v1/documents/search?q=zeppelin%20budget%20classified", &a).await;
    assert_eq!(hits["items"], json!([]), "search never crosses tenants");
    let (_, hits) = app.get(&format!("/v1/documents/search?q=zeppelin&documents={id}"), &a).await;
    assert_eq!(hits["items"], json!([]), "not even when asked for B's id");
    let (_, list) = app.get("/v1/documents", &a).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // A panel of A may not name B's document, and "all" means A's.
    let mut body = structured(3);
    body["documents"] = json!([id]);
    let (status, refused) = app.post("/v1/panels", &a, body.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused["error"]["fields"]["documents"].as_str().unwrap().contains("unknown document"), "{refused}");
    body["documents"] = json!("all");
    let panel = app.create_panel(&a, body).await;
    assert_eq!(panel["config"]["documents"], json!([{"id": ours["id"], "label": "D1", "title": "A's notes"}]));
    let done = app.wait_completed(&a, panel["id"].as_str().unwrap()).await;
    let text = done.to_string();
    assert!(!text.contains("zeppelin"), "B's passage never reaches A's panel");
    // B's delete leaves A's document alone.
    let (status, _) = app.request(Method::DELETE, &format!("/v1/documents/{id}"), Some(&b), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(&format!("/v1/documents/{}", ours["id"].as_str().unwrap()), &a).await;
    assert_eq!(status, StatusCode::OK);
}

#[actix_web::test]
async fn simulated_experts_quote_and_cite_only_the_passages_they_were_given() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("docs-panel", json!({})).await;
    let dossier = upload_ready(&app, &key, "CardioWatch dossier", DOSSIER).await;
    let trial = upload_ready(
        &app,
        &key,
        "Trial memo",
        "# Follow-up\n\nAt twelve months the false alarm rate fell to one per patient-week after a firmware update.",
    )
    .await;
    // A document that never becomes ready (it has no text).
    let (status, unready) = app.post("/v1/documents", &key, json!({"text": "  \n\n  "})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    wait_document(&app, &key, unready["id"].as_str().unwrap(), "failed").await;

    let mut body = structured(11);
    body["query"] =
        json!("Should the CardioWatch ECG device pursue 510(k) or De Novo given its battery safety record?");
    body["documents"] = json!([dossier["id"], trial["id"]]);
    body["evidence_chars"] = json!(1200);
    let panel = app.create_panel(&key, body.clone()).await;
    assert_eq!(panel["config"]["documents"][0]["label"], "D1");
    assert_eq!(panel["config"]["documents"][1]["label"], "D2");
    assert_eq!(panel["config"]["evidence_chars"], 1200);
    let id = panel["id"].as_str().unwrap();
    let done = app.wait_completed(&key, id).await;
    assert_eq!(done["status"], "completed", "{done}");

    let events = app.events(&key, id).await;
    let turns: Vec<&Value> = events.iter().filter(|e| e["kind"] == "turn_completed").collect();
    assert!(!turns.is_empty());
    let mut cited = 0;
    for turn in &turns {
        let data = &turn["data"];
        let evidence = &data["evidence"];
        let given: Vec<&str> = evidence["passages"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
        assert!(!given.is_empty(), "every AI turn is given passages: {data}");
        assert!(evidence["chars"].as_u64().unwrap() <= 1200, "within the budget: {evidence}");
        assert_eq!(evidence["budget"], 1200);
        for citation in data["citations"].as_array().unwrap() {
            assert_eq!(citation["valid"], true, "the simulated experts cite only what they were given: {data}");
            assert!(given.contains(&citation["label"].as_str().unwrap()), "{data}");
            // The quoted words are the passage's own.
            let doc = citation["document_id"].as_str().unwrap();
            let (status, passage) = app.get(&format!("/v1/documents/{doc}/passages/{}", citation["n"]), &key).await;
            assert_eq!(status, StatusCode::OK);
            let text = data["text"].as_str().unwrap();
            if let Some(end) = text.find(&format!("\" [{}]", citation["label"].as_str().unwrap())) {
                let start = text[..end].rfind('"').unwrap() + 1;
                let quote = text[start..end].trim_end_matches("...");
                assert!(
                    passage["text"].as_str().unwrap().replace('"', "'").contains(quote),
                    "a quote is the cited passage's own words: {quote} / {passage}"
                );
            }
            cited += 1;
        }
        assert!(!data["flags"].as_array().is_some_and(|f| f.iter().any(|x| x == "invented_citation")));
    }
    assert!(cited >= turns.len(), "every turn cites at least once ({cited} citations, {} turns)", turns.len());
    let completed = events.iter().find(|e| e["kind"] == "panel_completed").unwrap();
    let sources = completed["data"]["sources"].as_array().unwrap();
    assert!(!sources.is_empty(), "the recommendation rests on sources: {completed}");
    for source in sources {
        assert!([&dossier["id"], &trial["id"]].contains(&&source["document_id"]), "{source}");
        assert!(source["cited"].as_u64().unwrap() >= 1);
    }
    assert_eq!(done["sources"], completed["data"]["sources"]);
    // Turns in the panel view carry their citations for clients.
    assert!(done["rounds"][0]["turns"][0]["citations"].as_array().is_some_and(|c| !c.is_empty()), "{done}");
    assert_eq!(metric(&app, "askpanel_citations_total{valid=\"true\"}").await as usize, cited);
    // The event streams carry them as they carry every event.
    let response = app
        .client
        .get(app.url(&format!("/v1/panels/{id}/events")))
        .bearer_auth(&key)
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    let streamed = crate::sse::read_sse(response).await;
    let turn = streamed.iter().find(|e| e.1 == "turn_completed").expect("a turn over SSE");
    assert!(turn.2.to_string().contains("\"citations\":[{"), "{:?}", turn.2);
    let last = streamed.last().unwrap();
    assert!(last.1 == "panel_completed" && last.2.to_string().contains("\"sources\":[{"), "{:?}", last.2);

    // A document that is not ready may not be given to a panel.
    body["documents"] = json!([unready["id"]]);
    let (status, refused) = app.post("/v1/panels", &key, body.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused["error"]["fields"]["documents"].as_str().unwrap().contains("not ready"), "{refused}");
    body["documents"] = json!("nonsense");
    let (status, _) = app.post("/v1/panels", &key, body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[actix_web::test]
async fn a_document_whose_extractor_died_is_taken_up_again_after_its_lease() {
    use askpanel::store::documents::{DocumentRecord, DocumentStatus, LibraryQuota};
    let app = spawn_app().await;
    let (tenant, key) = app.create_tenant("docs-lease", json!({})).await;
    let store = app.store.clone().expect("an in-process server");
    let now = chrono::Utc::now();
    let id = askpanel_actors::evidence::DocumentId::new();
    let record = DocumentRecord {
        id,
        tenant_id: askpanel_actors::domain::TenantId(tenant.parse().unwrap()),
        title: "Left behind".into(),
        filename: None,
        media_type: "text/plain".into(),
        bytes: 40,
        status: DocumentStatus::Pending,
        progress: 0.0,
        error: None,
        pages: None,
        passages: 0,
        chars: 0,
        created_by: "test".into(),
        created_at: now,
        updated_at: now,
    };
    let quota = LibraryQuota { max_bytes: 1 << 20, max_documents: 10 };
    store.create_document(&record, b"An extractor claimed this and then died.", &quota).await.unwrap();
    // A node claims it for 2 s and dies before reading it.
    let claimed_at = std::time::Instant::now();
    let claimed = store.claim_document(2).await.unwrap();
    assert_eq!(claimed.map(|c| (c.id, c.attempt)), Some((id, 1)));
    assert_eq!(store.claim_document(2).await.unwrap(), None, "a claimed document is not handed out twice");
    let doc = wait_document(&app, &key, &id.to_string(), "ready").await;
    assert!(claimed_at.elapsed() >= std::time::Duration::from_secs(2), "taken up only once the lease ran out");
    assert_eq!(doc["passages"], 1);
}
