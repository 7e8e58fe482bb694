use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn the_catalog_lists_platform_experts_ranked_by_relevance() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let (status, body) = app.get("/v1/experts?limit=200", &key).await;
    assert_eq!(status, StatusCode::OK);
    let items = body["items"].as_array().unwrap();
    assert!(items.len() >= 40);
    for field in ["id", "name", "domain", "persona", "tags", "scope"] {
        assert!(!items[0][field].is_null(), "{field}");
    }
    assert!(items.iter().all(|e| e["scope"] == "platform"));
    let (_, body) = app.get("/v1/experts?q=GDPR%20HIPAA%20privacy&limit=3", &key).await;
    assert_eq!(body["items"][0]["domain"], "privacy", "{body}");
    let (_, body) = app.get("/v1/experts?domain=biostatistics", &key).await;
    assert!(body["items"].as_array().unwrap().iter().all(|e| e["domain"] == "biostatistics"));
    assert!(!body["items"].as_array().unwrap().is_empty());
    let id = items[0]["id"].as_str().unwrap();
    let (status, one) = app.get(&format!("/v1/experts/{id}"), &key).await;
    assert_eq!((status, one["id"].as_str()), (StatusCode::OK, Some(id)));
    assert_eq!(app.get("/v1/experts?limit=0", &key).await.0, StatusCode::UNPROCESSABLE_ENTITY);
}

#[actix_web::test]
async fn private_experts_belong_to_their_tenant_only() {
    let app = spawn_app().await;
    let (_, admin_a) = app.create_tenant("alpha", json!({})).await;
    let (_, admin_b) = app.create_tenant("beta", json!({})).await;
    let (status, expert) = app
        .post(
            "/v1/experts",
            &admin_a,
            json!({"name": "Dr. Quill", "domain": "regulatory", "persona": "A notified-body auditor for EU MDR class IIb devices.", "tags": ["mdr", "notified body", "zebrafish"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{expert}");
    assert_eq!(expert["scope"], "tenant");
    let id = expert["id"].as_str().unwrap();
    let (_, mine) = app.get("/v1/experts?q=zebrafish", &admin_a).await;
    assert_eq!(mine["items"][0]["id"], id, "ranked with the catalog");
    let (_, theirs) = app.get("/v1/experts?q=zebrafish&limit=200", &admin_b).await;
    assert!(!theirs["items"].as_array().unwrap().iter().any(|e| e["id"] == id));
    let missing = app.get("/v1/experts/0193a000-0000-7000-8000-0000000000ff", &admin_b).await;
    let cross = app.get(&format!("/v1/experts/{id}"), &admin_b).await;
    assert_eq!(cross, missing, "another tenant's expert answers like a missing one");
    // Tenant B cannot seat A's expert either.
    let (status, body) = app
        .post(
            "/v1/panels",
            &admin_b,
            json!({"query": "Is this device safe enough?", "panel_type": "structured", "experts": [id, items_id(&app, &admin_b).await, items_id2(&app, &admin_b).await]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["experts"].as_str().unwrap().contains("unknown expert"));
    // A can.
    let (status, body) = app
        .post("/v1/panels", &admin_a, json!({"query": "Is this device safe enough?", "panel_type": "structured", "experts": [id, items_id(&app, &admin_a).await, items_id2(&app, &admin_a).await], "simulation": {"turn_tokens": 10}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["members"][0]["name"], "Dr. Quill");
}

async fn items_id(app: &TestApp, key: &str) -> String {
    app.get("/v1/experts?domain=clinical", key).await.1["items"][0]["id"].as_str().unwrap().to_string()
}

async fn items_id2(app: &TestApp, key: &str) -> String {
    app.get("/v1/experts?domain=ethics", key).await.1["items"][0]["id"].as_str().unwrap().to_string()
}

#[actix_web::test]
async fn invalid_experts_get_422_with_fields() {
    let app = spawn_app().await;
    let (_, admin) = app.create_tenant("acme", json!({})).await;
    let (status, body) = app.post("/v1/experts", &admin, json!({"name": "", "tags": "notalist"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields = &body["error"]["fields"];
    for field in ["name", "domain", "persona", "tags"] {
        assert!(fields[field].is_string(), "{field}: {body}");
    }
}

#[actix_web::test]
async fn admins_edit_archive_hide_and_prefer_experts_and_selection_says_why() {
    use reqwest::Method;
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let (_, other) = app.create_tenant("globex", json!({})).await;
    let (_, member) = app.create_key(&key, "member").await;
    let query = "Should our AI ECG triage device pursue 510(k) or De Novo?";

    // Selection explains itself on every AI member.
    let panel = app
        .create_panel(
            &key,
            json!({"query": query, "panel_type": "structured", "expert_count": 4,
        "simulation": {"seed": 1, "pace_tokens_per_s": 0, "turn_tokens": 10}}),
        )
        .await;
    let first = &panel["members"][0];
    assert_eq!(first["selection"]["basis"], "relevance", "{first}");
    assert!(first["selection"]["matched_terms"].as_array().unwrap().iter().any(|t| t == "510k"), "{first}");
    assert!(first["selection"]["score"].as_f64().unwrap() > 0.0);
    let top_id = first["expert_id"].as_str().unwrap().to_string();
    let second_id = panel["members"][1]["expert_id"].as_str().unwrap().to_string();
    app.wait_completed(&key, panel["id"].as_str().unwrap()).await;

    // Hide the top platform expert: it leaves the list and the next panel.
    let path = format!("/v1/experts/{top_id}");
    let (status, hidden) = app.request(Method::PATCH, &path, Some(&key), Some(json!({"hidden": true}))).await;
    assert_eq!(status, StatusCode::OK, "{hidden}");
    assert_eq!((hidden["hidden"].as_bool(), hidden["preferred"].as_bool()), (Some(true), Some(false)));
    let (_, listed) = app.get("/v1/experts?limit=200", &key).await;
    assert!(listed["items"].as_array().unwrap().iter().all(|e| e["id"] != top_id.as_str()));
    let (_, all) = app.get("/v1/experts?limit=200&include_hidden=true", &key).await;
    assert!(all["items"].as_array().unwrap().iter().any(|e| e["id"] == top_id.as_str() && e["hidden"] == true));
    let (_, theirs) = app.get("/v1/experts?limit=200", &other).await;
    assert!(
        theirs["items"].as_array().unwrap().iter().any(|e| e["id"] == top_id.as_str()),
        "other tenants still see it"
    );
    let again = app
        .create_panel(
            &key,
            json!({"query": query, "panel_type": "structured", "expert_count": 4,
        "simulation": {"seed": 1, "pace_tokens_per_s": 0, "turn_tokens": 10}}),
        )
        .await;
    assert!(again["members"].as_array().unwrap().iter().all(|m| m["expert_id"] != top_id.as_str()), "{again}");
    app.wait_completed(&key, again["id"].as_str().unwrap()).await;

    // A private expert, preferred: it is seated, and says it was preferred.
    let (status, own) = app
        .post(
            "/v1/experts",
            &key,
            json!({"name": "Dr. Own", "domain": "clinical",
            "persona": "An electrophysiologist who reviews ECG triage algorithms for 510(k) submissions.",
            "tags": ["ecg", "510(k)", "triage"], "background": "Twenty years in cardiac electrophysiology labs.",
            "weighs": ["arrhythmia sensitivity"], "sceptical_of": ["retrospective-only validation"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{own}");
    assert_eq!(own["background"], "Twenty years in cardiac electrophysiology labs.");
    let own_id = own["id"].as_str().unwrap().to_string();
    let own_path = format!("/v1/experts/{own_id}");
    let (status, preferred) = app
        .request(Method::PATCH, &own_path, Some(&key), Some(json!({"preferred": true, "title": "Electrophysiologist"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{preferred}");
    assert_eq!(
        (preferred["preferred"].as_bool(), preferred["title"].as_str()),
        (Some(true), Some("Electrophysiologist"))
    );
    let third = app
        .create_panel(
            &key,
            json!({"query": query, "panel_type": "structured", "expert_count": 4,
        "simulation": {"seed": 1, "pace_tokens_per_s": 0, "turn_tokens": 10}}),
        )
        .await;
    let seat = third["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["expert_id"] == own_id.as_str())
        .expect("seated")
        .clone();
    assert_eq!(seat["selection"]["preferred"], true, "{seat}");
    assert_eq!(seat["name"], "Dr. Own");
    app.wait_completed(&key, third["id"].as_str().unwrap()).await;
    // Named experts say so.
    let named = app
        .create_panel(
            &key,
            json!({"query": query, "panel_type": "structured", "experts": [own_id, top_id, second_id],
        "simulation": {"seed": 1, "pace_tokens_per_s": 0, "turn_tokens": 10}}),
        )
        .await;
    assert_eq!(named["members"][0]["selection"]["basis"], "named", "{named}");
    app.wait_completed(&key, named["id"].as_str().unwrap()).await;

    // Refused: editing a platform expert, a member's edit, another tenant's edit, bad fields.
    let (status, body) = app.request(Method::PATCH, &path, Some(&key), Some(json!({"persona": "mine now"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        app.request(Method::PATCH, &own_path, Some(&member), Some(json!({"hidden": true}))).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.request(Method::PATCH, &own_path, Some(&other), Some(json!({"hidden": true}))).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.request(Method::DELETE, &own_path, Some(&other), None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&own_path, &other).await.0, StatusCode::NOT_FOUND);
    for bad in
        [json!({"name": ""}), json!({"weighs": [""]}), json!({"hidden": true, "preferred": true}), json!({"colour": 1})]
    {
        let (status, body) = app.request(Method::PATCH, &own_path, Some(&key), Some(bad.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
    assert_eq!(
        app.request(Method::DELETE, &path, Some(&key), None).await.0,
        StatusCode::CONFLICT,
        "platform experts are hidden, not deleted"
    );
    // A hidden expert is not preferred on its own either; a title may be cleared.
    let (status, body) = app.request(Method::PATCH, &path, Some(&key), Some(json!({"preferred": true}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, cleared) = app.request(Method::PATCH, &own_path, Some(&key), Some(json!({"title": ""}))).await;
    assert_eq!((status, cleared["title"].as_str()), (StatusCode::OK, Some("")), "{cleared}");

    // Deleting an expert panels seated archives it (once the index has seen those panels).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let archived = loop {
        let (_, found) = app.get(&format!("/v1/panels?expert={own_id}"), &key).await;
        if !found["items"].as_array().unwrap().is_empty() {
            let (status, archived) = app.request(Method::DELETE, &own_path, Some(&key), None).await;
            assert_eq!(status, StatusCode::OK, "{archived}");
            break archived;
        }
        assert!(tokio::time::Instant::now() < deadline, "the index did not see the panels");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(archived["archived"], true);
    let (status, body) = app
        .post(
            "/v1/panels",
            &key,
            json!({"query": query, "panel_type": "structured", "experts": [own_id, top_id, second_id]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "an archived expert is not seated: {body}");
    assert!(body["error"]["fields"]["experts"].as_str().unwrap().contains("archived"), "{body}");
    let (_, listed) = app.get("/v1/experts?limit=200", &key).await;
    assert!(listed["items"].as_array().unwrap().iter().all(|e| e["id"] != own_id.as_str()));
    // An expert no panel seated is deleted outright.
    let (_, unused) =
        app.post("/v1/experts", &key, json!({"name": "Unused", "domain": "legal", "persona": "Never seated."})).await;
    let unused_path = format!("/v1/experts/{}", unused["id"].as_str().unwrap());
    assert_eq!(app.request(Method::DELETE, &unused_path, Some(&key), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&unused_path, &key).await.0, StatusCode::NOT_FOUND);
    let audit = app.get("/v1/audit?action=expert.&limit=50", &key).await.1;
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in ["expert.created", "expert.updated", "expert.settings_changed", "expert.archived", "expert.deleted"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}
