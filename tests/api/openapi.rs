//! The API's description against the running server: the document and
//! the reference page are served; every operation it describes is routed
//! (and a method or path it does not describe is not); its example
//! requests validate against it and the server accepts them.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

fn validator(doc: &Value, name: &str) -> jsonschema::Validator {
    let root = json!({"$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc["components"].clone(), "$ref": format!("#/components/schemas/{name}")});
    jsonschema::draft202012::new(&root).expect("a schema that compiles")
}

/// The body schema's name and example of an operation.
fn example(doc: &Value, method: &str, path: &str) -> (String, Value) {
    let schema = &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"];
    let name = schema.as_str().unwrap_or_else(|| panic!("{method} {path} has a body")).rsplit('/').next().unwrap();
    let body = &doc["components"]["schemas"][name];
    let example = body.get("example").or_else(|| body["examples"].get(0)).cloned().expect("an example");
    (name.to_string(), example)
}

#[actix_web::test]
async fn the_document_describes_every_route_the_server_has_and_no_other() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/v1/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() > 60, "{}", paths.len());
    let id = "0193a000-0000-7000-8000-0000000000ff";
    for (path, item) in paths {
        let concrete = path
            .split('/')
            .map(|s| if s.starts_with('{') { if path.starts_with("/assets") { "app.js" } else { id } } else { s })
            .collect::<Vec<_>>()
            .join("/");
        for (method, op) in item.as_object().unwrap() {
            if path == "/v1/ws" {
                continue; // an upgrade, tested in ws.rs
            }
            let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            let response = app.client.request(method.clone(), app.url(&concrete)).send().await.unwrap();
            let status = response.status();
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is described but not routed");
            let public = op["security"].as_array().is_some_and(|s| s.is_empty());
            if !public {
                // Routed: the credentials are asked for before anything else.
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {status}");
            }
        }
        // The path itself is routed: a method it does not have answers 405
        // (an unknown path answers 404).
        if let Some(other) = ["get", "post", "put", "patch", "delete"].iter().find(|m| item.get(**m).is_none()) {
            let method = Method::from_bytes(other.to_ascii_uppercase().as_bytes()).unwrap();
            let status = app.client.request(method.clone(), app.url(&concrete)).send().await.unwrap().status();
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{path} is described but not routed ({method})");
        }
    }
    // What it does not describe, the server does not have.
    let (status, body) = app.request(Method::PUT, "/v1/panels", Some(&app.admin_key), None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert!(doc["paths"]["/v1/panels"].get("put").is_none());
    let (status, _) = app.get("/v1/panel", &app.admin_key).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The reference page and the WebSocket's document.
    let page = app.client.get(app.url("/docs/api")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = page.text().await.unwrap();
    for path in paths.keys() {
        assert!(page.contains(&path.replace('&', "&amp;")), "{path} on the page");
    }
    let asyncapi: Value = app.client.get(app.url("/v1/asyncapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(asyncapi["asyncapi"], "3.0.0");
    assert_eq!(asyncapi["channels"]["live"]["address"], "/v1/ws");
}

#[actix_web::test]
async fn the_documents_example_requests_validate_and_the_server_accepts_them() {
    let app = spawn_app().await;
    let doc: Value = app.client.get(app.url("/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    let (_, admin) = app.create_tenant("acme", json!({})).await;

    // Every example validates against its schema.
    let mut bodies = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["requestBody"]["content"]["application/json"].is_object() {
                let (name, example) = example(&doc, method, path);
                let errors: Vec<String> = validator(&doc, &name).iter_errors(&example).map(|e| e.to_string()).collect();
                assert!(errors.is_empty(), "{method} {path}: {errors:?}");
                bodies += 1;
            }
        }
    }
    assert!(bodies >= 25, "{bodies}");

    // And the server takes them as they are (writes the tenant's admin key may make).
    let platform = app.admin_key.clone();
    let calls: &[(&str, &str, &str)] = &[
        ("post", "/v1/admin/tenants", platform.as_str()),
        ("post", "/v1/panels", &admin),
        ("post", "/v1/keys", &admin),
        ("post", "/v1/experts", &admin),
        ("post", "/v1/webhooks", &admin),
        ("post", "/v1/invitations", &admin),
        ("patch", "/v1/tenant", &admin),
        ("put", "/v1/tenant/defaults", &admin),
        ("post", "/v1/ws-tokens", &admin),
    ];
    for (method, path, key) in calls {
        let (name, body) = example(&doc, method, path);
        let verb = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
        let (status, answer) = app.request(verb.clone(), path, Some(key), Some(body.clone())).await;
        assert!(status.is_success(), "{method} {path} with the example of {name}: {status} {answer}");
        // A field the schema does not know: the schema and the server both refuse it.
        if let Some(object) = body.as_object() {
            let mut extra = object.clone();
            extra.insert("surprise".into(), json!(true));
            let extra = Value::Object(extra);
            assert!(!validator(&doc, &name).is_valid(&extra), "{method} {path}: the schema takes unknown fields");
            let (status, answer) = app.request(verb, path, Some(key), Some(extra)).await;
            assert!(
                matches!(status, StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST),
                "{method} {path}: the server took an unknown field: {status} {answer}"
            );
        }
    }
}
