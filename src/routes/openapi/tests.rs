use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::*;
use crate::routes::table::operations;

/// A validator for a schema of the document (its `$ref`s resolved in it).
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root =
        json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "components": doc["components"].clone()});
    if let Some(map) = schema.as_object() {
        for (k, v) in map {
            root[k] = v.clone();
        }
    }
    jsonschema::draft202012::new(&root).unwrap_or_else(|e| panic!("a schema that compiles: {e}: {schema}"))
}

#[test]
fn paths_are_written_as_openapi_writes_them() {
    let table = [
        ("/v1/panels/{id}/shares/{share_id}", "/v1/panels/{id}/shares/{share_id}", vec!["id", "share_id"]),
        ("/assets/{file:.*}", "/assets/{file}", vec!["file"]),
        ("/", "/", vec![]),
    ];
    for (path, written, params) in table {
        assert_eq!(openapi_path(path), written);
        assert_eq!(path_params(path), params);
    }
}

#[test]
fn every_operation_of_the_table_is_in_the_document_once_with_its_parameters() {
    let doc = build(&operations());
    assert_eq!(doc["openapi"], "3.1.0");
    let mut seen = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for op in operations() {
        assert!(seen.insert((op.method, op.path)), "{} {} twice in the table", op.method, op.path);
        let described = &doc["paths"][openapi_path(op.path)][op.method];
        assert!(described.is_object(), "{} {} is not described", op.method, op.path);
        assert!(ids.insert(described["operationId"].as_str().unwrap().to_string()), "operation ids are unique");
        let params: Vec<&str> =
            described["parameters"].as_array().into_iter().flatten().filter_map(|p| p["name"].as_str()).collect();
        for name in path_params(op.path) {
            assert!(params.contains(&name.as_str()), "{} {}: path parameter {name}", op.method, op.path);
        }
    }
    let described: usize = doc["paths"].as_object().unwrap().values().map(|i| i.as_object().unwrap().len()).sum();
    assert_eq!(described, seen.len(), "nothing in the document that the table lacks");
    // The handlers' query types give the query parameters.
    let usage: Vec<&str> = doc["paths"]["/v1/usage"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(usage, ["month", "from", "to", "panel_type"]);
    assert_eq!(
        doc["paths"]["/v1/panels"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["name"] == "type")
            .count(),
        1
    );
}

#[test]
fn every_body_taking_write_has_a_request_schema_and_its_example_validates() {
    let doc = build(&operations());
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(schema) = op["requestBody"]["content"]["application/json"]["schema"].as_object() else { continue };
            let name = schema["$ref"].as_str().unwrap().rsplit('/').next().unwrap();
            let body = &doc["components"]["schemas"][name];
            let example = body.get("example").or_else(|| body["examples"].get(0));
            let example = example.unwrap_or_else(|| panic!("{method} {path}: {name} has no example"));
            let check = validator(&doc, &json!({"$ref": format!("#/components/schemas/{name}")}));
            let errors: Vec<String> = check.iter_errors(example).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{method} {path}: the example of {name} does not validate: {errors:?}");
            checked += 1;
        }
    }
    assert!(checked >= 25, "{checked} bodies");
    for (method, path) in
        [("post", "/v1/panels"), ("patch", "/v1/tenant"), ("put", "/v1/tenant/defaults"), ("post", "/v1/webhooks")]
    {
        assert!(doc["paths"][path][method]["requestBody"].is_object(), "{method} {path}");
    }
    // A wrong body does not validate: the schemas do refuse.
    let create =
        validator(&doc, &doc["paths"]["/v1/panels"]["post"]["requestBody"]["content"]["application/json"]["schema"]);
    assert!(!create.is_valid(&json!({"query": 5})));
}

#[test]
fn the_reference_page_lists_every_operation_and_loads_nothing_from_elsewhere() {
    let doc = build(&operations());
    let page = page::render(&doc);
    for op in operations() {
        assert!(page.contains(&format!("id=\"{}\"", operation_id(&op))), "{} {}", op.method, op.path);
    }
    assert!(!page.contains("<script"), "no script");
    for attr in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!page.contains(attr), "{attr}");
    }
}

#[test]
fn the_asyncapi_document_describes_every_frame_and_its_examples_are_what_the_server_parses() {
    let doc: Value = serde_json::from_str(ASYNCAPI).expect("JSON");
    assert_eq!(doc["asyncapi"], "3.0.0");
    let messages = doc["components"]["messages"].as_object().unwrap();
    let names: BTreeSet<&str> = messages.keys().map(String::as_str).collect();
    let client = ["subscribe", "unsubscribe", "input", "moderate", "ping"];
    let server = ["subscribed", "event", "token", "presence", "notification", "ack", "error", "lagged", "pong"];
    assert_eq!(names, client.iter().chain(server.iter()).copied().collect());
    for name in client {
        let message = &messages[name];
        let mut root = message["payload"].clone();
        root["components"] = doc["components"].clone();
        let check = jsonschema::draft202012::new(&root).expect("a schema");
        let examples = message["examples"].as_array().unwrap_or_else(|| panic!("{name} has examples"));
        for example in examples {
            let payload = &example["payload"];
            assert!(check.is_valid(payload), "{name}: {payload}");
            let parsed = crate::ws::protocol::parse_client_frame(&payload.to_string());
            assert!(parsed.frame.is_ok(), "the server parses the example of {name}: {:?}", parsed.frame);
        }
        // And a field the server refuses, the schema refuses.
        let mut extra = examples[0]["payload"].clone();
        extra["surprise"] = json!(1);
        assert!(!check.is_valid(&extra), "{name}");
        assert!(crate::ws::protocol::parse_client_frame(&extra.to_string()).frame.is_err(), "{name}");
    }
    // The server's own frames carry the types the document names.
    let ack = serde_json::to_value(crate::ws::protocol::ServerFrame::Ack { reference: &json!(1) }).unwrap();
    assert_eq!(ack["type"], "ack");
    // Every moderator action the engine knows is listed.
    let listed: Vec<&str> = messages["moderate"]["payload"]["properties"]["action"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for action in listed.iter() {
        assert!(action.parse::<askpanel_actors::event::ModeratorActionKind>().is_ok(), "{action}");
    }
}

#[test]
fn the_schemas_enums_are_the_servers_own_values() {
    let doc = build(&operations());
    let values = |name: &str| -> Vec<String> {
        doc["components"]["schemas"][name]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} is an enum schema"))
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let panel_types: Vec<String> =
        askpanel_actors::domain::PanelType::ALL.iter().map(|t| t.as_str().to_string()).collect();
    assert_eq!(values("PanelType"), panel_types, "every panel type, no other");
    for v in values("ModeratorAction") {
        assert!(v.parse::<askpanel_actors::event::ModeratorActionKind>().is_ok(), "{v}");
    }
    for v in values("Role") {
        assert!(v.parse::<crate::store::Role>().is_ok(), "{v}");
    }
    for v in values("Tier") {
        assert!(v.parse::<crate::store::Tier>().is_ok(), "{v}");
    }
    for v in values("ConsensusMethod") {
        let parsed: Result<askpanel_actors::domain::ConsensusMethod, _> = serde_json::from_value(json!(v));
        assert!(parsed.is_ok(), "{v}");
    }
}
