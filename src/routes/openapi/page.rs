//! The API reference as one HTML page, rendered from the OpenAPI document:
//! inline CSS, no script, nothing from the internet.

use serde_json::Value;

use crate::report::chart::escape;

const STYLE: &str = "body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1a1a1a;max-width:980px;margin:0 auto;padding:24px}\
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:2px solid #ddd}h3{font-size:1em;margin:1.4em 0 .3em;font-family:ui-monospace,monospace}\
.m{display:inline-block;min-width:4.2em;padding:0 .4em;border-radius:3px;color:#fff;font-size:.8em;text-align:center;margin-right:.5em}\
.get{background:#1b6e3a}.post{background:#1f4fb4}.put{background:#7a4a00}.patch{background:#6a3a9a}.delete{background:#a11}\
table{border-collapse:collapse;width:100%;font-size:.9em;margin:.4em 0}th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}th{background:#f4f4f4}\
pre{background:#f6f8fa;padding:.6em;overflow:auto;font-size:.85em}.who{color:#555;font-size:.9em}nav ul{columns:2}code{font-size:.9em}";

fn schema_of<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/components/schemas/")) {
        Some(name) => &doc["components"]["schemas"][name],
        None => schema,
    }
}

/// A schema's type in a few words.
fn type_words(schema: &Value) -> String {
    if let Some(name) = schema.get("$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next()) {
        return name.to_string();
    }
    if let Some(choices) = schema.get("oneOf").or_else(|| schema.get("anyOf")).and_then(Value::as_array) {
        return choices.iter().map(type_words).collect::<Vec<_>>().join(" or ");
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" | ");
    }
    let kind = match &schema["type"] {
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" or "),
        _ => "any".to_string(),
    };
    if kind.starts_with("array") {
        return format!("array of {}", type_words(&schema["items"]));
    }
    kind
}

fn limits(schema: &Value) -> String {
    let mut out = Vec::new();
    for (key, words) in [
        ("minimum", "at least"),
        ("maximum", "at most"),
        ("minLength", "at least (chars)"),
        ("maxLength", "at most (chars)"),
        ("pattern", "matches"),
        ("format", "format"),
    ] {
        if let Some(v) = schema.get(key) {
            out.push(format!("{words} {}", v.as_str().map_or_else(|| v.to_string(), str::to_string)));
        }
    }
    out.join("; ")
}

fn body_table(h: &mut String, doc: &Value, schema: &Value) {
    let schema = schema_of(doc, schema);
    let required: Vec<&str> =
        schema["required"].as_array().map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    if let Some(props) = schema["properties"].as_object() {
        h.push_str("<table><tr><th>Field</th><th>Type</th><th>Required</th><th>Description</th></tr>");
        for (name, prop) in props {
            let about = [prop["description"].as_str().unwrap_or("").to_string(), limits(prop)]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" · ");
            h.push_str(&format!(
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(name),
                escape(&type_words(prop)),
                if required.contains(&name.as_str()) { "yes" } else { "" },
                escape(&about)
            ));
        }
        h.push_str("</table>");
    }
    if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
        h.push_str("<p class=\"who\">Other fields are refused (422).</p>");
    }
    if let Some(example) = schema.get("example").or_else(|| schema["examples"].get(0)) {
        let text = serde_json::to_string_pretty(example).unwrap_or_default();
        h.push_str(&format!("<p>Example:</p><pre>{}</pre>", escape(&text)));
    }
}

/// The page.
pub fn render(doc: &Value) -> String {
    let mut h = String::with_capacity(128 * 1024);
    h.push_str("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">");
    h.push_str(&format!("<title>askpanel API reference</title><style>{STYLE}</style></head><body><main>"));
    h.push_str(&format!(
        "<h1>askpanel API reference <small>{}</small></h1><p>{}</p>\
         <p>Machine-readable: <a href=\"/v1/openapi.json\">OpenAPI 3.1</a> (HTTP) and \
         <a href=\"/v1/asyncapi.json\">AsyncAPI 3.0</a> (the WebSocket).</p>",
        escape(doc["info"]["version"].as_str().unwrap_or("")),
        escape(doc["info"]["description"].as_str().unwrap_or(""))
    ));
    let tags: Vec<&str> =
        doc["tags"].as_array().map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect()).unwrap_or_default();
    h.push_str("<nav><ul>");
    for tag in &tags {
        h.push_str(&format!("<li><a href=\"#{0}\">{1}</a></li>", escape(&tag.replace(' ', "-")), escape(tag)));
    }
    h.push_str("</ul></nav>");
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    for tag in &tags {
        h.push_str(&format!("<section><h2 id=\"{}\">{}</h2>", escape(&tag.replace(' ', "-")), escape(tag)));
        for (path, item) in &paths {
            for (method, op) in item.as_object().into_iter().flatten() {
                if op["tags"][0].as_str() != Some(tag) {
                    continue;
                }
                h.push_str(&format!(
                    "<h3 id=\"{}\"><span class=\"m {method}\">{}</span>{}</h3><p>{}</p><p class=\"who\">{}</p>",
                    escape(op["operationId"].as_str().unwrap_or("")),
                    method.to_ascii_uppercase(),
                    escape(path),
                    escape(op["summary"].as_str().unwrap_or("")),
                    escape(op["description"].as_str().unwrap_or(""))
                ));
                if let Some(params) = op["parameters"].as_array() {
                    h.push_str("<table><tr><th>Parameter</th><th>In</th><th>Type</th><th>Description</th></tr>");
                    for p in params {
                        h.push_str(&format!(
                            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                            escape(p["name"].as_str().unwrap_or("")),
                            escape(p["in"].as_str().unwrap_or("")),
                            escape(&type_words(&p["schema"])),
                            escape(p["description"].as_str().unwrap_or(""))
                        ));
                    }
                    h.push_str("</table>");
                }
                if let Some(content) = op["requestBody"]["content"].as_object() {
                    let kinds: Vec<&String> = content.keys().collect();
                    h.push_str(&format!(
                        "<p>Body ({}):</p>",
                        escape(&kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", "))
                    ));
                    if let Some(json) = content.get("application/json") {
                        body_table(&mut h, doc, &json["schema"]);
                    }
                }
                let answers: Vec<String> = op["responses"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(code, _)| code.starts_with(['1', '2', '3']))
                    .map(|(code, r)| format!("{code} {}", r["description"].as_str().unwrap_or("")))
                    .collect();
                h.push_str(&format!(
                    "<p class=\"who\">Answers: {}; errors in the Error shape.</p>",
                    escape(&answers.join(", "))
                ));
            }
        }
        h.push_str("</section>");
    }
    h.push_str("</main></body></html>");
    h
}
