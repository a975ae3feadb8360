//! The operator's OpenAPI document is typed, and true (CHK-47).
//!
//! Two checks. The document, walked: no body or property is an object without its
//! properties, every failure status has the refusal body with a non-empty list of codes,
//! every path parameter has a schema. And the document against the running server: a
//! day's traffic (the policy, keys and recipients; an enrollment; challenges; a check-in;
//! its receipt; the ledgers; an ad-hoc challenge; a resolution; the log) and a set of
//! refusals, every request body and every JSON answer validated against the schema the
//! document gives its route and status.
//!
//! The validator below implements the JSON Schema keywords the document uses and refuses
//! any other, so it cannot pass a schema by ignoring what it does not know: a keyword
//! added to the document fails these tests until the validator checks it.

use minimis_proto::*;
use minimis_testkit::https::{Method, Reply, StatusCode};
use serde_json::{Value, json};

use crate::server::Harness;

/// The keywords [`validate`] checks, and those it may ignore because they say nothing
/// about which values are valid (annotations).
const CHECKED: &[&str] = &[
    "$ref",
    "type",
    "enum",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "oneOf",
    "allOf",
    "anyOf",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
];
const ANNOTATIONS: &[&str] = &[
    "description",
    "title",
    "format",
    "contentEncoding",
    "contentMediaType",
    "examples",
    "default",
    "deprecated",
];

fn component<'a>(doc: &'a Value, reference: &str) -> Result<&'a Value, String> {
    let name = reference
        .strip_prefix("#/components/schemas/")
        .ok_or_else(|| format!("a reference outside the components: {reference}"))?;
    doc["components"]["schemas"]
        .get(name)
        .ok_or_else(|| format!("no component {name}"))
}

/// Whether `v` is valid against `schema` (JSON Schema 2020-12, the subset in [`CHECKED`]).
fn validate(doc: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    let s = schema
        .as_object()
        .ok_or_else(|| format!("{at}: a schema that is not an object: {schema}"))?;
    if let Some(k) = s
        .keys()
        .find(|k| !CHECKED.contains(&k.as_str()) && !ANNOTATIONS.contains(&k.as_str()))
    {
        return Err(format!(
            "{at}: keyword {k:?} is not checked by this validator"
        ));
    }
    if let Some(r) = s.get("$ref") {
        let r = r.as_str().ok_or("a $ref that is not a string")?;
        validate(doc, component(doc, r)?, v, at)?;
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            other => return Err(format!("{at}: a type of {other}")),
        };
        let is = |t: &str| match t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            _ => false,
        };
        if !types.iter().any(|t| is(t)) {
            return Err(format!("{at}: {v} is not of type {t}"));
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        return Err(format!("{at}: {v} is not one of {e:?}"));
    }
    if let Some(text) = v.as_str() {
        let chars = text.chars().count();
        if let Some(min) = s.get("minLength").and_then(Value::as_u64)
            && (chars as u64) < min
        {
            return Err(format!("{at}: {v} is shorter than {min}"));
        }
        if let Some(max) = s.get("maxLength").and_then(Value::as_u64)
            && (chars as u64) > max
        {
            return Err(format!("{at}: {v} is longer than {max}"));
        }
        if let Some(p) = s.get("pattern").and_then(Value::as_str) {
            let re = regex::Regex::new(p).map_err(|e| format!("{at}: pattern {p}: {e}"))?;
            if !re.is_match(text) {
                return Err(format!("{at}: {v} does not match {p}"));
            }
        }
    }
    if let Some(n) = v.as_f64() {
        if let Some(min) = s.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            return Err(format!("{at}: {v} is below {min}"));
        }
        if let Some(max) = s.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            return Err(format!("{at}: {v} is above {max}"));
        }
    }
    if let Some(o) = v.as_object() {
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let r = r.as_str().unwrap_or_default();
            if !o.contains_key(r) {
                return Err(format!("{at}: {r:?} is required"));
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, item) in o {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => validate(doc, ps, item, &format!("{at}.{k}"))?,
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        return Err(format!("{at}: {k:?} is not a property of the schema"));
                    }
                    Some(extra @ Value::Object(_)) => {
                        validate(doc, extra, item, &format!("{at}.{k}"))?;
                    }
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(a)) = (s.get("items"), v.as_array()) {
        for (i, item) in a.iter().enumerate() {
            validate(doc, items, item, &format!("{at}[{i}]"))?;
        }
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for (i, one) in all.iter().enumerate() {
            validate(doc, one, v, &format!("{at}(allOf {i})"))?;
        }
    }
    if let Some(any) = s.get("anyOf").and_then(Value::as_array)
        && !any.iter().any(|one| validate(doc, one, v, at).is_ok())
    {
        return Err(format!("{at}: {v} matches none of anyOf"));
    }
    if let Some(one_of) = s.get("oneOf").and_then(Value::as_array) {
        let matched = one_of
            .iter()
            .filter(|one| validate(doc, one, v, at).is_ok())
            .count();
        if matched != 1 {
            return Err(format!(
                "{at}: {v} matches {matched} of oneOf, not exactly one"
            ));
        }
    }
    Ok(())
}

/// The operation of `method` on the route `template`.
fn operation<'a>(doc: &'a Value, method: &str, template: &str) -> &'a Value {
    let op = &doc["paths"][template][method];
    assert!(op.is_object(), "{method} {template} is not in the document");
    op
}

/// Validates an answer of `method template` against the document.
fn check_answer(doc: &Value, method: &str, template: &str, reply: &Reply) {
    let op = operation(doc, method, template);
    let status = reply.status.as_u16().to_string();
    let answer = &op["responses"][&status];
    assert!(
        answer.is_object(),
        "{method} {template} answered {status}, which the document does not list: {}",
        String::from_utf8_lossy(&reply.body)
    );
    if reply.body.is_empty() {
        assert!(
            answer
                .get("content")
                .is_none_or(|c| c.as_object().is_none_or(serde_json::Map::is_empty)),
            "{method} {template} {status}: an empty answer where the document has a body"
        );
        return;
    }
    let schema = &answer["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {template} {status}: a JSON answer with no JSON schema in the document"
    );
    let body: Value = serde_json::from_slice(&reply.body).unwrap();
    if let Err(e) = validate(doc, schema, &body, "answer") {
        panic!("{method} {template} {status}: {e}\n{body:#}");
    }
}

/// Validates a request body of `method template` against the document.
fn check_request(doc: &Value, method: &str, template: &str, body: &Value) {
    let schema =
        &operation(doc, method, template)["requestBody"]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {template}: no request schema");
    if let Err(e) = validate(doc, schema, body, "request") {
        panic!("{method} {template}: {e}\n{body:#}");
    }
}

/// Every schema of the document, with where it is.
fn schemas<'a>(v: &'a Value, at: String, out: &mut Vec<(String, &'a Value)>) {
    match v {
        Value::Object(o) => {
            if let Some(s) = o.get("schema") {
                out.push((format!("{at}/schema"), s));
            }
            for (k, item) in o {
                schemas(item, format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                schemas(item, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Whether a schema, and everything it is made of, is typed: no object without its
/// properties (or a typed map), no empty schema.
fn untyped(s: &Value, at: &str, out: &mut Vec<String>) {
    let Some(o) = s.as_object() else { return };
    if o.keys().all(|k| ANNOTATIONS.contains(&k.as_str())) {
        out.push(format!("{at}: a schema that says nothing"));
    }
    if o.get("type") == Some(&json!("object"))
        && ![
            "properties",
            "additionalProperties",
            "oneOf",
            "allOf",
            "anyOf",
        ]
        .iter()
        .any(|k| o.contains_key(*k))
    {
        out.push(format!("{at}: an object without its properties"));
    }
    for (k, item) in o {
        match (k.as_str(), item) {
            ("properties", Value::Object(p)) => {
                for (name, ps) in p {
                    untyped(ps, &format!("{at}.{name}"), out);
                }
            }
            ("items" | "additionalProperties", ps @ Value::Object(_)) => {
                untyped(ps, &format!("{at}/{k}"), out);
            }
            ("oneOf" | "allOf" | "anyOf", Value::Array(a)) => {
                for (i, ps) in a.iter().enumerate() {
                    untyped(ps, &format!("{at}/{k}/{i}"), out);
                }
            }
            _ => {}
        }
    }
}

async fn document(h: &Harness) -> Value {
    let mut c = h.client().await;
    let r = c.get("/v1/openapi.json").await.unwrap();
    assert_eq!(r.status, StatusCode::OK);
    r.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chk_47_every_body_and_parameter_of_the_openapi_document_is_typed() {
    let h = Harness::start().await;
    let doc = document(&h).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let mut found = Vec::new();
    schemas(&doc["paths"], String::new(), &mut found);
    for (name, s) in doc["components"]["schemas"].as_object().unwrap() {
        found.push((format!("components/{name}"), s));
    }
    assert!(found.len() > 100, "{} schemas", found.len());
    let mut bad = Vec::new();
    for (at, s) in &found {
        untyped(s, at, &mut bad);
        // Every keyword is one the validator of the next test knows.
        if let Err(e) = validate(&doc, s, &json!(null), at)
            && e.contains("is not checked by this validator")
        {
            bad.push(e);
        }
    }
    assert!(bad.is_empty(), "untyped schemas:\n{}", bad.join("\n"));
    // Every failure status has the refusal body, with the codes the service answers it
    // with; every path parameter has a schema.
    let mut failures = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                assert!(p["schema"].is_object(), "{method} {template}: {p}");
            }
            for (status, answer) in op["responses"].as_object().unwrap() {
                if status.as_str() < "400" {
                    continue;
                }
                failures += 1;
                let schema = &answer["content"]["application/json"]["schema"];
                let codes = schema["properties"]["error"]["properties"]["code"]["enum"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{method} {template} {status}: {answer}"));
                assert!(!codes.is_empty(), "{method} {template} {status}: no code");
                // The codes the description names for this status are among them.
                let described = answer["description"].as_str().unwrap_or_default();
                for word in described.split(|c: char| !(c.is_ascii_lowercase() || c == '_')) {
                    if word.contains('_') && !codes.contains(&json!(word)) {
                        panic!("{method} {template} {status}: {word} is described, not listed");
                    }
                }
            }
        }
    }
    assert!(failures > 50, "{failures} failure answers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chk_47_every_answer_of_a_day_validates_against_the_document() {
    let h = Harness::start().await;
    let doc = document(&h).await;
    let mut c = h.client().await;
    let mut officer = h.officer_client().await;

    // The public routes.
    for path in ["/v1/policy", "/v1/keys"] {
        check_answer(&doc, "get", path, &c.get(path).await.unwrap());
    }
    let epoch = h.world.now_epoch();
    let recipients = c
        .get(&format!("/v1/epochs/{}/recipients", epoch.get()))
        .await
        .unwrap();
    assert_eq!(recipients.json().as_array().map(Vec::len), Some(2));
    check_answer(&doc, "get", "/v1/epochs/{epoch}/recipients", &recipients);
    let published = h.world.published(epoch);
    let again = serde_json::to_value(&published[0]).unwrap();
    check_request(&doc, "post", "/v1/recipients", &again);
    let r = c
        .post("/v1/recipients", serde_json::to_vec(&again).unwrap())
        .await
        .unwrap();
    check_answer(&doc, "post", "/v1/recipients", &r);

    // An enrollment, as an officer sends it, and its answer.
    let mut p = h.world.participant();
    let request = serde_json::to_value(minimis_wire::operator::EnrollRequest {
        device_key: p.device.public_key(),
        tag_key: minimis_wire::operator::WireTagKey::new(*p.tags.expose_secret()),
        schedule: p.schedule.clone(),
        conditions: false,
    })
    .unwrap();
    check_request(&doc, "post", "/v1/enrollments", &request);
    let r = officer
        .post("/v1/enrollments", serde_json::to_vec(&request).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
    check_answer(&doc, "post", "/v1/enrollments", &r);
    p.pseudonym = r.json()["pseudonym"].as_str().unwrap().parse().unwrap();

    // A challenge, a check-in, its receipt and the ledgers.
    h.running.tick().await.unwrap();
    let challenges_path = format!("/v1/participants/{}/challenges", p.pseudonym);
    let r = c
        .signed(
            Method::GET,
            &challenges_path,
            &p.pseudonym,
            &p.device,
            h.clock_now(),
            vec![],
        )
        .await
        .unwrap();
    check_answer(&doc, "get", "/v1/participants/{pseudonym}/challenges", &r);
    let challenges: Vec<SignedChallenge> = serde_json::from_slice(&r.body).unwrap();
    let challenge = &challenges[0].challenge;
    let env = h.envelope(&p, challenge, "on my way");
    // The check-in as the device sends it: the envelope's fields (CHK-10).
    let checkin = serde_json::to_value(&env).unwrap();
    check_request(&doc, "post", "/v1/checkins", &checkin);
    let r = c
        .post("/v1/checkins", serde_json::to_vec(&checkin).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
    check_answer(&doc, "post", "/v1/checkins", &r);
    // The same check-in again: a refusal, with its schema.
    let r = c
        .post("/v1/checkins", serde_json::to_vec(&checkin).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::CONFLICT);
    check_answer(&doc, "post", "/v1/checkins", &r);
    let receipt_path = format!(
        "/v1/participants/{}/receipts/{}",
        p.pseudonym,
        env.record_id()
    );
    let r = c
        .signed(
            Method::GET,
            &receipt_path,
            &p.pseudonym,
            &p.device,
            h.clock_now(),
            vec![],
        )
        .await
        .unwrap();
    check_answer(
        &doc,
        "get",
        "/v1/participants/{pseudonym}/receipts/{record_id}",
        &r,
    );
    let ledger_path = format!("/v1/participants/{}/ledger", p.pseudonym);
    let r = c
        .signed(
            Method::GET,
            &ledger_path,
            &p.pseudonym,
            &p.device,
            h.clock_now(),
            vec![],
        )
        .await
        .unwrap();
    check_answer(&doc, "get", "/v1/participants/{pseudonym}/ledger", &r);
    let r = officer
        .get(&format!("/v1/ledger/{}", challenge.id))
        .await
        .unwrap();
    check_answer(&doc, "get", "/v1/ledger/{challenge_id}", &r);
    // An ad-hoc challenge outside the participant's windows: refused with its code.
    let r = officer
        .post(
            &format!("/v1/participants/{}/challenges", p.pseudonym),
            vec![],
        )
        .await
        .unwrap();
    check_answer(&doc, "post", "/v1/participants/{pseudonym}/challenges", &r);
    // A resolution of a row that is not for review: refused with its code.
    let resolution = json!({"resolution": "excused-technical", "reason": "operator-outage"});
    check_request(
        &doc,
        "post",
        "/v1/ledger/{challenge_id}/resolution",
        &resolution,
    );
    let r = officer
        .post(
            &format!("/v1/ledger/{}/resolution", challenge.id),
            serde_json::to_vec(&resolution).unwrap(),
        )
        .await
        .unwrap();
    assert!(r.status.is_client_error(), "{:?}", r.json());
    check_answer(&doc, "post", "/v1/ledger/{challenge_id}/resolution", &r);
    // Unknown and malformed identifiers.
    let r = officer
        .get(&format!("/v1/ledger/{}", ChallengeId::from_bytes([9; 16])))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    check_answer(&doc, "get", "/v1/ledger/{challenge_id}", &r);
    let r = officer.get("/v1/ledger/NOT-HEX").await.unwrap();
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    check_answer(&doc, "get", "/v1/ledger/{challenge_id}", &r);
    // A check-in that is not JSON.
    let r = c.post("/v1/checkins", b"{".to_vec()).await.unwrap();
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    check_answer(&doc, "post", "/v1/checkins", &r);
    // An unsigned read of a participant's challenges.
    let r = c.get(&challenges_path).await.unwrap();
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    check_answer(&doc, "get", "/v1/participants/{pseudonym}/challenges", &r);
}

/// The validator is not vacuous: a real answer, changed the ways a careless server or
/// document could change it, is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chk_47_the_validator_refuses_answers_the_document_does_not_allow() {
    let h = Harness::start().await;
    let doc = document(&h).await;
    let mut officer = h.officer_client().await;
    let p = h.enroll(&mut officer).await;
    h.running.tick().await.unwrap();
    let mut c = h.client().await;
    let challenges = h.challenges(&mut c, &p).await;
    let schema = &doc["paths"]["/v1/participants/{pseudonym}/challenges"]["get"]["responses"]["200"]
        ["content"]["application/json"]["schema"];
    let good = serde_json::to_value(&challenges).unwrap();
    validate(&doc, schema, &good, "good").unwrap();
    type Change = fn(&mut Value);
    let changes: [(&str, Change); 6] = [
        ("an uppercase id", |v| {
            let id = v[0]["challenge"]["id"].as_str().unwrap().to_uppercase();
            v[0]["challenge"]["id"] = json!(id);
        }),
        ("a short signature", |v| v[0]["signature"] = json!("AAAA")),
        ("an unknown kind", |v| {
            v[0]["challenge"]["kind"] = json!("adhoc")
        }),
        ("an extra field", |v| {
            v[0]["challenge"]["location"] = json!("here")
        }),
        ("a missing field", |v| {
            v[0]["challenge"].as_object_mut().unwrap().remove("policy");
        }),
        ("a time as text", |v| {
            v[0]["challenge"]["issued_at"] = json!("1764000000")
        }),
    ];
    for (what, change) in changes {
        let mut bad = good.clone();
        change(&mut bad);
        assert!(
            validate(&doc, schema, &bad, what).is_err(),
            "{what} passed the document's schema"
        );
    }
    // A refusal with a code its status does not have.
    let conflict = &doc["paths"]["/v1/checkins"]["post"]["responses"]["409"]["content"]["application/json"]
        ["schema"];
    let ok = json!({"error": {"code": "challenge_already_answered", "message": "x"}});
    validate(&doc, conflict, &ok, "409").unwrap();
    let wrong = json!({"error": {"code": "bad_signature", "message": "x"}});
    assert!(validate(&doc, conflict, &wrong, "409").is_err());
}
